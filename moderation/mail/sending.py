"""Send an e-mail through MODERATION_SMTP_*; with no SMTP host, log it instead."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

logger = logging.getLogger(__name__)


def smtp_configured(config: Any) -> bool:
    """Return whether mail is really sent (an SMTP host is set)."""
    return bool(config.get("SMTP_HOST"))


def where_mail_goes(config: Any) -> str:
    """Return a line saying where moderator mail goes."""
    if smtp_configured(config):
        return f"moderator mail: SMTP {config['SMTP_HOST']}:{config['SMTP_PORT']}"
    return "moderator mail: no MODERATION_SMTP_HOST set, so mail is written to the worker's log"


def send_message(config: Any, message: EmailMessage) -> None:
    """Send one message (raises smtplib/OS errors), or log it when SMTP is not configured."""
    if not message["From"]:
        message["From"] = config["SMTP_FROM"]
    if not smtp_configured(config):
        logger.info("mail not sent (no SMTP_HOST):\n%s", message.as_string())
        return
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    timeout = float(config["SMTP_TIMEOUT_SECONDS"])
    if config.get("SMTP_SSL"):
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if config.get("SMTP_STARTTLS"):
            client.starttls(context=ssl.create_default_context())
        if config.get("SMTP_USERNAME"):
            client.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
        client.send_message(message)
