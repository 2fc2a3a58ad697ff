"""Configuration defaults and their validation (environment prefix MODERATION_)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


class ConfigError(RuntimeError):
    """The configuration cannot run the service."""


def defaults(instance_path: str) -> dict[str, Any]:
    """Return the built-in defaults; SQLite in the instance folder is the embedded database."""
    return {
        "DATABASE_URL": "sqlite:///" + os.path.join(instance_path, "moderation.sqlite"),
        "SECRET_KEY": None,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # An import request gives up (413, nothing stored) past this many seconds: under
        # gunicorn's worker timeout (30 s), so a huge or costly history never hangs.
        "IMPORT_SECONDS": 20.0,
        "DB_CONNECT_TIMEOUT": 1.5,
        # Every wait of a request on the database is bounded (seconds; see db.Timeouts):
        # a frozen database answers 503 within about 2 s instead of blocking the workers.
        "DB_STATEMENT_TIMEOUT": 1.5,
        "DB_LOCK_TIMEOUT": 1.0,
        "DB_POOL_TIMEOUT": 1.0,
        "DB_BUSY_TIMEOUT": 5.0,
        "RETRY_AFTER_SECONDS": 5,
        "FLOOD_SECONDS": 15,
        "SETTINGS_TTL_SECONDS": 2.0,
        "SITE_KEY_TTL_SECONDS": 2.0,
        "CLASSIFIER_POLL_SECONDS": 5.0,
        "DEFAULT_ARTIFACT": os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            "models",
            "default.skops",
        ),
        "PASSWORD_HASH_METHOD": "scrypt",
        # Failed sign-ins (moderation/review/throttle.py): per (client address, login),
        # per client address, per login from anywhere (a known browser is exempt); each
        # new block of one key lasts twice the last, up to LOGIN_MAX_LOCK_SECONDS.
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_CLIENT_MAX_FAILURES": 20,
        "LOGIN_ACCOUNT_MAX_FAILURES": 50,
        "LOGIN_FAILURE_WINDOW_SECONDS": 3600,
        "LOGIN_LOCK_SECONDS": 300,
        "LOGIN_MAX_LOCK_SECONDS": 86400,
        # Browser sessions end after this long unused, and this long after sign-in.
        "SESSION_IDLE_SECONDS": 3600,
        "SESSION_MAX_SECONDS": 43200,
        "SESSION_COOKIE_HTTPONLY": True,
        # Behind a TLS proxy (README "Running behind a TLS proxy"): how many proxies set
        # X-Forwarded-For/-Proto/-Host (0: none, the socket's peer is the client), and
        # the Strict-Transport-Security max-age sent on https answers (0: none).
        "PROXY_HOPS": 0,
        "HSTS_SECONDS": 0,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "moderation_session",
        "WTF_CSRF_TIME_LIMIT": None,
        "PAGE_SIZE": 50,
        "MAX_PAGE_SIZE": 200,
        # The review queue's counts per status stop here (a count past it shows "10,000+").
        "QUEUE_COUNT_LIMIT": 10_000,
        # How often the open review page refreshes its counts per status (0: never).
        "REVIEW_POLL_SECONDS": 30.0,
        # Re-score comments held as classifier_unavailable once a classifier loads.
        "CLASSIFIER_RESCORE_ON_LOAD": True,
        # The task queue (moderation.taskqueue): a SQLite file, or redis://HOST:PORT/DB.
        "QUEUE_URL": "sqlite:///" + os.path.join(instance_path, "queue.sqlite"),
        "QUEUE_NAME": "moderation",  # several installs may share one Redis under other names
        "QUEUE_WORKERS": 4,
        "QUEUE_POLL_SECONDS": 0.25,
        # Training jobs (moderation.jobs): where they run, and when one counts as dead.
        "JOB_RUNNER": "queue",
        "JOB_HEARTBEAT_SECONDS": 5.0,
        "JOB_STALE_SECONDS": 60.0,
        "JOB_QUEUED_SECONDS": 300.0,
        "JOB_NICE": 10,
        # Webhooks (moderation.webhooks): who may receive, and the delivery timings.
        "WEBHOOKS_ALLOW_PRIVATE": False,
        "WEBHOOKS_TIMEOUT_SECONDS": 5.0,
        "WEBHOOKS_RETRY_BASE_SECONDS": 5.0,
        "WEBHOOKS_RETRY_MAX_SECONDS": 3600.0,
        "WEBHOOKS_RETRY_WINDOW_SECONDS": 86400.0,
        "WEBHOOKS_LEASE_SECONDS": 60.0,
        "WEBHOOKS_SWEEP_AFTER_SECONDS": 60.0,
        # A commit wakes the delivery worker at most once per WAKE window per process; a
        # woken dispatch sends BATCH deliveries per transaction and lingers LINGER seconds
        # (at least the window) before it ends; DISPATCHERS runs at once per worker.
        "WEBHOOKS_WAKE_SECONDS": 0.2,
        "WEBHOOKS_LINGER_SECONDS": 1.0,
        "WEBHOOKS_BATCH": 200,
        "WEBHOOKS_GATHER_SECONDS": 0.5,  # a dispatch's wait between batches that were not full
        "WEBHOOKS_DISPATCHERS": 3,
        # How long a process trusts its list of a site's endpoints (changes made in the
        # same process apply at once; 0: read them with every event).
        "WEBHOOKS_ENDPOINTS_TTL_SECONDS": 2.0,
        # Moderator e-mail (moderation.mail): SMTP; no SMTP_HOST = mail is logged, not sent.
        "SMTP_HOST": None,
        "SMTP_PORT": 25,
        "SMTP_USERNAME": None,
        "SMTP_PASSWORD": None,
        "SMTP_STARTTLS": False,
        "SMTP_SSL": False,
        "SMTP_TIMEOUT_SECONDS": 10.0,
        "SMTP_FROM": "moderation@localhost",
        "MAIL_BASE_URL": "http://127.0.0.1:8000",  # where the links in the mail point
        "MAIL_DIGEST_MINUTES": 60,
        "MAIL_WAKE_SECONDS": 5.0,  # a waiting comment queues a mail run at most this often
        "MAIL_LINK_MAX_AGE_SECONDS": 7 * 24 * 3600,
        # Akismet routes: failed key attempts allowed per client address and window.
        "AKISMET_KEY_FAILURES": 10,
        "AKISMET_KEY_FAILURE_WINDOW_SECONDS": 3600.0,
    }


def load_secret_file(instance_path: str) -> str | None:
    """Return the secret written by `flask setup` to the instance folder, if any."""
    path = os.path.join(instance_path, "secret_key")
    if os.path.exists(path):
        with open(path, encoding="ascii") as handle:
            return handle.read().strip() or None
    return None


def validate(config: Mapping[str, Any]) -> None:
    """Refuse configurations that would run insecurely or not at all."""
    if not config.get("SECRET_KEY") and not config.get("TESTING"):
        raise ConfigError(
            "MODERATION_SECRET_KEY is not set (nor instance/secret_key): sessions and"
            " CSRF tokens need a secret; `flask setup` writes one"
        )
    if not str(config.get("DATABASE_URL", "")).startswith(("sqlite", "postgresql")):
        raise ConfigError("MODERATION_DATABASE_URL must be a sqlite or postgresql URL")
    if float(config["WEBHOOKS_LINGER_SECONDS"]) < float(config["WEBHOOKS_WAKE_SECONDS"]):
        raise ConfigError(
            "MODERATION_WEBHOOKS_LINGER_SECONDS must be at least MODERATION_WEBHOOKS_WAKE_SECONDS:"
            " a dispatch must outlast the window its wake-up stands for"
        )
    if float(config["WEBHOOKS_LEASE_SECONDS"]) <= float(config["WEBHOOKS_TIMEOUT_SECONDS"]):
        raise ConfigError(
            "MODERATION_WEBHOOKS_LEASE_SECONDS must exceed MODERATION_WEBHOOKS_TIMEOUT_SECONDS:"
            " a claimed delivery's lease must outlive its send"
        )
