"""WebSocket and HTTP plumbing over aiohttp.

The URL safety rules (TLS always on for remote hosts; plain ``ws://`` and ``http://`` only
for loopback) and ``USER_AGENT`` live in :mod:`tether.urls`, shared with the REST client;
they are re-exported here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

from tether.errors import AuthenticationFailed, HTTPError
from tether.token import Token
from tether.urls import USER_AGENT, check_url, is_loopback

__all__ = [
    "USER_AGENT",
    "check_url",
    "gateway_connect_url",
    "get_gateway_bot",
    "is_loopback",
]


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
