"""WebSocket and HTTP plumbing over aiohttp, with the URL safety rules.

TLS verification is always on for remote hosts; plain ``ws://`` and ``http://`` are accepted
only for loopback addresses (the emulator, tests).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

from tether.errors import AuthenticationFailed, ConfigError, HTTPError
from tether.token import Token

__all__ = [
    "USER_AGENT",
    "check_url",
    "gateway_connect_url",
    "get_gateway_bot",
    "is_loopback",
]

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


def gateway_connect_url(base: str, *, compress: str | None) -> str:
    """``base`` with the query string the gateway needs (``v=10&encoding=json[&compress]``).

    Any query string already on ``base`` is replaced (resume URLs arrive without one).
    """
    parts = urlsplit(base)
    query: dict[str, str] = {"v": "10", "encoding": "json"}
    if compress:
        query["compress"] = compress
    path = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


async def get_gateway_bot(
    http: aiohttp.ClientSession, api_url: str, token: Token, *, timeout: float = 10.0
) -> dict[str, Any]:
    """``GET /gateway/bot``: the gateway URL, recommended shards and session-start limit.

    Raises:
        AuthenticationFailed: 401 (bad token); never retried.
        HTTPError: any other non-2xx answer, or a body that is not the expected object.
        aiohttp.ClientError, TimeoutError: transport failures (the caller retries).
    """
    headers = {"Authorization": f"Bot {token.reveal()}", "User-Agent": USER_AGENT}
    url = api_url.rstrip("/") + "/gateway/bot"
    async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        if resp.status == 401:
            raise AuthenticationFailed(4004, reason="REST answered 401 to GET /gateway/bot")
        if resp.status >= 300:
            body = await resp.text()
            raise HTTPError(resp.status, 0, body[:200])
        data = await resp.json(content_type=None)
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise HTTPError(resp.status, 0, "GET /gateway/bot did not return an object with a url")
    return data
