"""The app factory: configuration from the environment and its validation."""

from __future__ import annotations

import json
import subprocess
import sys

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


BUILD_AND_LIST_MODULES = """
import json, sys
from moderation import create_app
create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": sys.argv[1]})
print(json.dumps(sorted(sys.modules)))
"""


def test_building_the_app_imports_no_task_queue_backend(tmp_path):
    # A web worker only enqueues, and only when it has something to enqueue: huey (and
    # with it the redis and psycopg clients, ~16 MB) is imported on the queue's first use.
    out = subprocess.run(
        [sys.executable, "-c", BUILD_AND_LIST_MODULES, f"sqlite:///{tmp_path}/x.sqlite"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "moderation.taskqueue" in modules
    assert not {"huey", "redis", "psycopg"} & modules


def test_a_bad_queue_url_is_refused_when_the_app_is_built(tmp_path):
    with pytest.raises(ValueError, match="QUEUE_URL"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "x",
                "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite",
                "QUEUE_URL": "amqp://localhost/",
            }
        )
