"""No server-side request forgery: which receiver URLs and addresses a webhook may reach."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata services: never a receiver, whatever the operator allows.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
MAX_URL_LENGTH = 2000


class AddressRefused(ValueError):
    """The URL, or an address its host resolves to, may not receive webhooks."""


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the URL's parts and the vetted address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def forbidden_reason(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Return why `ip` may not receive webhooks, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return forbidden_reason(ip.ipv4_mapped, allow_private=allow_private)
        # 6to4 (2002::/16) and Teredo (2001::/32) reach the IPv4 address they carry.
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            reason = forbidden_reason(embedded, allow_private=allow_private)
            if reason is not None:
                return f"{reason} ({embedded}, inside {ip})"
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    for private, name in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_private and not ip.is_reserved, "a private address"),
    ):
        if private:
            return None if allow_private else name
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "a reserved, non-public address"
    return None


_SPACE = re.compile(r"\s")


def check_url(url: str) -> tuple[str, str, int, str]:
    """Return (scheme, host, port, path) of an http(s) URL, or raise AddressRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"is not a valid URL ({exc})") from None
    if port == 0:  # urlsplit reads ":0" as a port, and `port or 80` would send it to 80
        raise AddressRefused("has port 0: a port is 1 to 65535")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressRefused("must be an http or https URL")
    if not parts.hostname:
        raise AddressRefused("has no host")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("must not carry a user name or password")
    if _SPACE.search(url):
        raise AddressRefused("must not contain spaces")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host and vet every address it has; raise AddressRefused if any is bad.

    The delivery connects to the address returned here (not to a second lookup), so a
    name that resolves to a public address at check time cannot point elsewhere at
    connect time.
    """
    scheme, host, port, path = check_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"host {host!r} does not resolve ({exc})") from None
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        reason = forbidden_reason(ip, allow_private=allow_private)
        if reason is not None:
            raise AddressRefused(
                f"host {host!r} resolves to {ip}, {reason}; webhooks may only reach public"
                " addresses (MODERATION_WEBHOOKS_ALLOW_PRIVATE=1 allows private ones)"
            )
        addresses.append(str(ip))
    if not addresses:
        raise AddressRefused(f"host {host!r} has no address")
    return Target(scheme, host, port, path, addresses[0])
