"""Self-hosted comment moderation service: create_app() builds the Flask application."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: config, database, auth, error rendering, blueprints."""
    from moderation import admin
    from moderation import akismet
    from moderation import api
    from moderation import auth
    from moderation import classifier
    from moderation import cli
    from moderation import config
    from moderation import db
    from moderation import health
    from moderation import mail
    from moderation import problems
    from moderation import reason_rows
    from moderation import review
    from moderation import security_headers
    from moderation import settings
    from moderation import storable
    from moderation import taskqueue
    from moderation import webhooks

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.defaults(app.instance_path))
    app.config.from_prefixed_env(prefix="MODERATION")
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.load_secret_file(app.instance_path)
    config.validate(app.config)

    db.init_app(app)
    reason_rows.init_app(app)
    taskqueue.init_app(app)
    webhooks.init_app(app)
    mail.init_app(app)
    problems.init_app(app)
    storable.init_app(app)
    auth.init_app(app)
    settings.init_app(app)
    security_headers.init_app(app)
    classifier.init_app(app)
    cli.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(akismet.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(admin.bp)
    return app
