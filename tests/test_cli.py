"""The scriptable CLI: sites, users, tokens, setup."""

from __future__ import annotations

from sqlalchemy import select

from moderation import db
from moderation.auth import hash_secret
from moderation.tables import Site
from moderation.tables import User
from tests.conftest import comment_payload


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_sites_create_prints_a_working_key_alone_on_the_last_line(runner, client, app):
    result = runner.invoke(args=["sites", "create", "my-blog"])
    assert result.exit_code == 0, result.output
    key = last_line(result.output)
    assert key.startswith("msk_")
    assert " " not in key
    with db.new_session(app) as s:
        site = s.scalar(select(Site).where(Site.name == "my-blog"))
        assert site.key_hash == hash_secret(key)
        assert key not in (site.key_hash, site.key_prefix)
    response = client.post(
        "/api/v1/comments", json=comment_payload(), headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201


def test_sites_create_refuses_a_taken_name(runner):
    assert runner.invoke(args=["sites", "create", "twice"]).exit_code == 0
    result = runner.invoke(args=["sites", "create", "twice"])
    assert result.exit_code != 0
    assert "exists already" in result.output


def test_sites_revoke_unknown_site_fails_clearly(runner):
    result = runner.invoke(args=["sites", "revoke", "nope"])
    assert result.exit_code != 0
    assert "no site named" in result.output


def test_users_create_hashes_the_password_and_token_works(runner, client, app):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Mod@Example.org",
            "--role",
            "moderator",
            "--password",
            "s3cret-pass",
        ]
    )
    assert result.exit_code == 0, result.output
    with db.new_session(app) as s:
        user = s.scalar(select(User).where(User.email == "mod@example.org"))
        assert user.role == "moderator"
        assert "s3cret-pass" not in user.password_hash
    token = last_line(runner.invoke(args=["users", "token", "mod@example.org"]).output)
    assert token.startswith("mut_")
    response = client.get("/api/v1/comments/1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated; there is simply no comment 1


def test_users_create_asks_for_the_password_when_not_given(runner, app):
    result = runner.invoke(
        args=["users", "create", "admin2@example.org", "--role", "admin"],
        input="long-enough-pw\nlong-enough-pw\n",
    )
    assert result.exit_code == 0, result.output
    with db.new_session(app) as s:
        assert s.scalar(select(User.role).where(User.email == "admin2@example.org")) == "admin"


def test_users_create_refuses_a_short_password_and_a_bad_role(runner):
    short = runner.invoke(args=["users", "create", "x@example.org", "--password", "short"])
    assert short.exit_code != 0
    assert "at least 8" in short.output
    role = runner.invoke(
        args=["users", "create", "y@example.org", "--role", "root", "--password", "long-enough"]
    )
    assert role.exit_code != 0


def test_disabled_user_token_stops_working(runner, client):
    runner.invoke(args=["users", "create", "gone@example.org", "--password", "long-enough"])
    token = last_line(runner.invoke(args=["users", "token", "gone@example.org"]).output)
    assert runner.invoke(args=["users", "disable", "gone@example.org"]).exit_code == 0
    response = client.get("/api/v1/comments/1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_setup_creates_the_demo_site_and_admin_once(runner, app):
    first = runner.invoke(args=["setup"])
    assert first.exit_code == 0, first.output
    assert "site key:  msk_" in first.output
    assert "admin login: admin@example.org / " in first.output
    second = runner.invoke(args=["setup"])
    assert second.exit_code == 0, second.output
    assert "msk_" not in second.output
    with db.new_session(app) as s:
        assert len(s.scalars(select(Site)).all()) == 1
