"""gunicorn settings of the service (`make run`): `gunicorn -c gunicorn.conf.py wsgi:app`.

Environment: MODERATION_BIND (127.0.0.1:8000), MODERATION_WORKERS (2) and
FORWARDED_ALLOW_IPS (gunicorn's own variable: the TLS proxy's addresses, default 127.0.0.1).
"""

from __future__ import annotations

import logging
import os
from typing import Any

bind = os.environ.get("MODERATION_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("MODERATION_WORKERS", "2"))
# Every database wait of a request is bounded (about 2 s, see moderation/db.py): a worker
# silent for this long is stuck for another reason, and the master replaces it.
timeout = 30
# On SIGTERM a worker finishes the requests it has, for at most this long.
graceful_timeout = 20
keepalive = 5
# Only the proxy in front may set X-Forwarded-Proto (https, hence Secure cookies and
# HSTS); the client's address itself comes from MODERATION_PROXY_HOPS (ProxyFix).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# Each worker loads the app itself (no preload): the classifier, the database pool and
# their threads are per process.
preload_app = False
# gunicorn 27's control socket lives at one path per user ($HOME/.gunicorn): several
# servers on one host would share it. Nothing here uses it.
control_socket_disable = True


def post_worker_init(worker: Any) -> None:
    """Load the active classifier before the worker accepts its first request."""
    from moderation.classifier import get_holder

    app = worker.wsgi
    with app.app_context():
        loaded = get_holder().refresh()
    logging.getLogger("gunicorn.error").info(
        "worker %s: classifier version %s loaded before serving",
        os.getpid(),
        loaded.version if loaded else "none (fails closed until one loads)",
    )
