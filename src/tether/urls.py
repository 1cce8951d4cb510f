"""URL safety rules and the User-Agent, shared by the gateway runtime and the REST client.

TLS is always on for remote hosts: plain ``ws://`` and ``http://`` are accepted only for
loopback addresses (the emulator, tests). Pure (no I/O), so every layer may import it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from tether.errors import ConfigError

__all__ = ["USER_AGENT", "check_url", "is_loopback"]

#: ``DiscordBot ($url, $versionNumber)`` plus our name (spec 11.1).
USER_AGENT = "DiscordBot (https://github.com/tether-py/tether, 0.1.0) tether"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine (localhost or 127.0.0.0/8 or ::1)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, kind: str) -> str:
    """Validate a REST (``kind="http"``) or gateway (``kind="ws"``) URL.

    Raises:
        ConfigError: unknown scheme, or a plain-text scheme for a non-loopback host.
    """
    parts = urlsplit(url)
    secure, plain = ("https", "http") if kind == "http" else ("wss", "ws")
    if parts.scheme == secure:
        return url
    if parts.scheme == plain:
        if is_loopback(parts.hostname):
            return url
        raise ConfigError(
            f"refusing plain {plain}:// to {parts.hostname!r}: only loopback may skip TLS"
        )
    raise ConfigError(f"unsupported URL scheme {parts.scheme!r} in {kind} URL")
