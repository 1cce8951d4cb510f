"""The emulator's REST surface under ``/api/v10`` (spec 1.1, 11, 14 A1-A5).

Routes:

- ``GET /api/v10/gateway``: ``{url}``, no auth.
- ``GET /api/v10/gateway/bot``: ``{url, shards, session_start_limit}``; Bot auth.
- ``GET /api/v10/users/@me``: the bot user; Bot auth.
- ``GET /api/v10/oauth2/applications/@me`` and ``/applications/@me``: the application.
- ``GET /api/v10/channels/{id}``, ``GET /api/v10/guilds/{id}``: world objects.
- ``POST /api/v10/channels/{id}/messages``: validate, create the message, emit
  MESSAGE_CREATE on every session that should see it, answer with the message.

Every answer is JSON with ``Content-Type`` exactly ``application/json`` (discord.py compares
the header verbatim) and carries ``X-RateLimit-*`` headers. A missing or wrong
``Authorization: Bot <token>`` gets 401 ``{"message": "401: Unauthorized", "code": 0}``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tether.emulator.hub import Hub
from tether.emulator.payloads import (
    application_payload,
    channel_payload,
    guild_payload,
    user_payload,
)
from tether.wire.codec import DecodeError, decode_json, encode_json

__all__ = ["API_PREFIX", "add_rest_routes", "json_response"]

API_PREFIX = "/api/v10"
_MAX_CONTENT = 2000
_CONTENT_FIELDS = ("content", "embeds", "sticker_ids", "components", "files", "poll", "attachments")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json``."""
    response = web.Response(body=encode_json(body), status=status, headers=headers)
    response.headers["Content-Type"] = "application/json"
    return response


def _error(status: int, code: int, message: str, errors: Any = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status)


class RestApi:
    """REST handlers bound to a hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.hub.token}"

    def _headers(self, route: str) -> dict[str, str]:
        now = time.time()
        return {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{now + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": f"emu-{abs(hash(route)) % 10**12:012x}",
        }

    def wrap(self, handler: Handler, *, auth: bool = True) -> Handler:
        """Add auth, rate-limit headers and logging around a handler."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            if auth and not self._authorized(request):
                response: web.StreamResponse = _error(401, 0, "401: Unauthorized")
            else:
                response = await handler(request)
            route = (
                request.match_info.route.resource.canonical
                if request.match_info.route.resource
                else ""
            )
            for key, value in self._headers(route).items():
                response.headers.setdefault(key, value)
            self.hub.log.add(
                "rest", method=request.method, path=request.path, status=response.status
            )
            return response

        return wrapped

    async def gateway(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway (spec 1.1)."""
        return json_response({"url": self.hub.gateway_url})

    async def gateway_bot(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway/bot (spec 1.1): url, shards, session_start_limit."""
        config = self.hub.config
        return json_response(
            {
                "url": self.hub.gateway_url,
                "shards": config.shards,
                "session_start_limit": {
                    "total": config.session_start_total,
                    "remaining": self.hub.budget_remaining(),
                    "reset_after": self.hub.budget_reset_after_ms(),
                    "max_concurrency": config.max_concurrency,
                },
            }
        )

    async def me(self, request: web.Request) -> web.StreamResponse:
        """GET /users/@me: the bot user."""
        user = user_payload(self.hub.world.bot)
        user.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        return json_response(user)

    async def application(self, request: web.Request) -> web.StreamResponse:
        """GET /oauth2/applications/@me (discord.py calls it at login)."""
        return json_response(application_payload(self.hub.world))

    async def get_channel(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}."""
        channel = self.hub.world.channel(_digits(request.match_info["channel_id"]))
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        return json_response(channel_payload(channel))

    async def get_guild(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}."""
        guild = self.hub.world.guilds.get(_digits(request.match_info["guild_id"]))
        if guild is None:
            return _error(404, 10004, "Unknown Guild")
        return json_response(guild_payload(guild))

    async def create_message(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/messages (spec 11.6): validate, create, emit MESSAGE_CREATE."""
        channel = self.hub.world.channel(_digits(request.match_info["channel_id"]))
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        body = await _read_body(request)
        if not isinstance(body, dict):
            return _error(400, 50109, "The request body contains invalid JSON.")
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            return _form_error("content", "BASE_TYPE_STRING", "Must be a string.")
        if isinstance(content, str) and len(content) > _MAX_CONTENT:
            return _form_error(
                "content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."
            )
        if not any(body.get(name) for name in _CONTENT_FIELDS):
            return _error(400, 50006, "Cannot send an empty message")
        extra: dict[str, Any] = {}
        for name in ("nonce", "tts", "embeds", "components"):
            if body.get(name) is not None:
                extra[name] = body[name]
        message = self.hub.create_message(
            channel.id, content or "", author=self.hub.world.bot, **extra
        )
        reply = {k: v for k, v in message.items() if k not in ("member", "guild_id")}
        return json_response(reply)

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Any other /api/v10 route."""
        return _error(404, 0, "404: Not Found")


def _form_error(field: str, code: str, message: str) -> web.Response:
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return _error(400, 50035, "Invalid Form Body", errors)


def _digits(raw: str) -> int:
    return int(raw) if raw.isdigit() else -1


async def _read_body(request: web.Request) -> Any:
    """The JSON body, or the ``payload_json`` part of a multipart body; None if invalid."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        raw = form.get("payload_json")
        if raw is None:
            return {}
        text = (
            raw
            if isinstance(raw, str)
            else bytes(raw).decode()
            if isinstance(raw, (bytes, bytearray))
            else raw.file.read().decode()
        )
    else:
        text = await request.text()
    try:
        return decode_json(text)
    except DecodeError:
        return None


def add_rest_routes(app: web.Application, hub: Hub) -> None:
    """Register the REST routes of :mod:`tether.emulator.rest` on ``app``."""
    api = RestApi(hub)
    p = API_PREFIX
    router = app.router
    router.add_get(f"{p}/gateway", api.wrap(api.gateway, auth=False))
    router.add_get(f"{p}/gateway/bot", api.wrap(api.gateway_bot))
    router.add_get(f"{p}/users/@me", api.wrap(api.me))
    router.add_get(f"{p}/oauth2/applications/@me", api.wrap(api.application))
    router.add_get(f"{p}/applications/@me", api.wrap(api.application))
    router.add_get(p + "/channels/{channel_id}", api.wrap(api.get_channel))
    router.add_get(p + "/guilds/{guild_id}", api.wrap(api.get_guild))
    router.add_post(p + "/channels/{channel_id}/messages", api.wrap(api.create_message))
    router.add_route("*", p + "/{tail:.*}", api.wrap(api.not_found, auth=False))
