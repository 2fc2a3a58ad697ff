"""The app factory: configuration from the environment and its validation."""

from __future__ import annotations

import pytest

from moderation import create_app
from moderation.config import ConfigError


def test_missing_secret_key_fails_outside_testing(tmp_path, monkeypatch):
    monkeypatch.delenv("MODERATION_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})


def test_environment_variables_configure_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("MODERATION_SECRET_KEY", "from-env")
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite")
    monkeypatch.setenv("MODERATION_FLOOD_SECONDS", "30")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["DATABASE_URL"].endswith("env.sqlite")
    assert app.config["FLOOD_SECONDS"] == 30


def test_unsupported_database_url_is_refused(monkeypatch):
    monkeypatch.setenv("MODERATION_SECRET_KEY", "x")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app({"DATABASE_URL": "mysql://localhost/x"})
