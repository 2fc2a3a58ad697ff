"""Webhook signing secrets: derived from SECRET_KEY and a salt the row keeps, never stored.

A Standard Webhooks secret must be known to sign, so it cannot be hashed as the API keys
are. The endpoint's row keeps a random salt instead, and the secret is HMAC-SHA256 of it
under SECRET_KEY: a copy of the database alone (a backup, a leak) cannot forge a site's
webhooks. Changing SECRET_KEY therefore changes every endpoint's secret; its receiver
needs the new one (register the endpoint again). Rows made before this stored the secret
itself, and keep signing with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (the spec's prefix, not a secret)
DERIVED = "derived:v1:"


def new_salt() -> str:
    """Return what a new endpoint's row stores: the salt its secret is derived from."""
    return DERIVED + secrets.token_urlsafe(16)


def signing_secret(secret_key: str, stored: str) -> str:
    """Return the whsec_ secret that signs an endpoint's webhooks, from what its row stores."""
    if not stored.startswith(DERIVED):
        return stored  # stored as given, before secrets were derived
    salt = stored.removeprefix(DERIVED).encode("ascii")
    digest = hmac.new(secret_key.encode("utf-8"), b"webhook-secret:" + salt, hashlib.sha256)
    return SECRET_PREFIX + base64.b64encode(digest.digest()).decode("ascii")
