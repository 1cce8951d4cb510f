"""The emulator's REST surface under ``/api/v10`` (spec 1.1, 11, 14 A).

Routes (``Bot`` auth unless noted):

- ``GET /gateway`` (no auth), ``GET /gateway/bot``, ``GET /users/@me``,
  ``GET /oauth2/applications/@me`` and ``/applications/@me``.
- ``GET /channels/{id}``, ``GET /guilds/{id}``, ``GET /guilds/{id}/members/{user_id}``.
- Messages (:mod:`~tether.emulator.messages`): ``POST /channels/{id}/messages`` (emits
  MESSAGE_CREATE), ``GET|PATCH|DELETE /channels/{id}/messages/{message_id}``,
  ``PUT .../reactions/{emoji}/@me``, ``POST /channels/{id}/typing``.
- Interactions (:mod:`~tether.emulator.interactions`, no auth): the callback, the
  ``@original`` response and follow-ups.

Every request passes one pipeline (:meth:`RestApi.wrap`): a ban answers 403 to everything;
then auth (401); then injected faults (slow, 429 of a scope, 5xx); then the global limit
and the route's bucket (:mod:`~tether.emulator.ratelimit`), each a real 429 when exceeded;
then the handler. Answers carry real ``X-RateLimit-*`` headers and ``Via: 1.1 google`` (a
ban's answer does not, as on Discord). 401, 403 and 429 (not
``shared``) count towards the invalid-request ban. Every call is logged as a ``rest``
record (method, path with tokens redacted, route, status, body, ...), queryable with
:meth:`RestSide.calls` or ``GET /_emulator/rest/calls``. JSON answers have a Content-Type
of exactly ``application/json`` (discord.py compares it verbatim).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tether.emulator.hub import Hub
from tether.emulator.interactions import InteractionRoutes, InteractionStore
from tether.emulator.log import LogRecord
from tether.emulator.messages import MessageRoutes, MessageStore
from tether.emulator.payloads import (
    application_payload,
    channel_payload,
    guild_payload,
    member_payload,
    role_payload,
    user_payload,
)
from tether.emulator.ratelimit import RestLimits, ServerLimiter, ceil_ms
from tether.emulator.replies import (
    BODY_KEY,
    INVALID,
    RESULT_KEY,
    digits,
    error,
    json_response,
    read_body,
)
from tether.emulator.restfaults import RestFaults
from tether.emulator.world import Guild

__all__ = ["API_PREFIX", "RestApi", "RestSide", "add_rest_routes", "json_response"]

API_PREFIX = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SECRET_PARAMS = ("interaction_token",)
_LOGGED_PARAMS = (
    "channel_id", "guild_id", "message_id", "user_id", "interaction_id", "application_id",
)  # fmt: skip
_BAN_BODY = (
    "<!DOCTYPE html><html><head><title>Access denied | discord.com used Cloudflare to "
    "restrict access</title></head><body>Error 1015: You are being rate limited. The owner "
    "of this website (discord.com) has banned you temporarily from accessing this website."
    "</body></html>"
)
_BAD_GATEWAY_BODY = "<html><head><title>502 Bad Gateway</title></head><body>502</body></html>"


class RestSide:
    """The REST half of an emulator: ``emu.rest``.

    Attributes:
        limits: rate-limit knobs (:class:`~tether.emulator.ratelimit.RestLimits`), mutable.
        limiter: the server-side windows, invalid counts and bans.
        faults: REST faults (:class:`~tether.emulator.restfaults.RestFaults`).
        messages: every message the emulator made (:class:`MessageStore`).
        interactions: the interactions dispatched (create them here).
    """

    def __init__(self, hub: Hub, limits: RestLimits | None = None) -> None:
        self.hub = hub
        self.limits = limits if limits is not None else RestLimits()
        self.limiter = ServerLimiter(self.limits)
        self.faults = RestFaults(self._ban, lambda name, **args: hub.log.add(
            "fault", name=f"rest.{name}", **args))  # fmt: skip
        self.messages = MessageStore()
        self.interactions = InteractionStore(hub)
        self.client_address = "127.0.0.1"

    def _ban(self, duration_s: float | None) -> None:
        if duration_s is None:
            self.limiter.unban()
        else:
            self.limiter.ban(self.client_address, self.hub.now(), duration_s)

    def configure(self, **changes: Any) -> None:
        """Change :class:`RestLimits` fields (see ``RestLimits.update``)."""
        self.limits.update(**changes)

    def set_bucket(self, route: str, name: str, limit: int, window_s: float) -> None:
        """Give a route key a bucket; routes given one name share it (per major parameter)."""
        self.limits.set_bucket(route, name, limit, window_s)

    def calls(self, *, since: int = 0, **fields: Any) -> list[LogRecord]:
        """Logged REST calls, filtered by equality on their data (``method``, ``route``,
        ``status``, ``channel_id`` (a string), ...)."""
        return self.hub.log.find("rest", since=since, **fields)

    async def wait_for_call(
        self, *, timeout: float | None = 5.0, since: int = 0, **fields: Any
    ) -> LogRecord:
        """Wait for a matching REST call (see :meth:`calls`).

        Raises:
            TimeoutError: none arrived in time.
        """
        return await self.hub.log.wait_for("rest", timeout=timeout, since=since, **fields)

    def bot_messages(self, channel_id: int | str | None = None) -> list[dict[str, Any]]:
        """Messages the bot has (still) in a channel or everywhere, oldest first."""
        return self.messages.all(channel_id, author_id=self.hub.world.bot.id)

    def state(self) -> dict[str, Any]:
        """A JSON-ready summary for the control API."""
        now = self.hub.now()
        return {
            "limits": self.limits.as_dict(),
            "faults": [f.as_dict() for f in self.faults.pending],
            "forbidden_channels": [str(c) for c in sorted(self.faults.forbidden_channels)],
            "invalid_requests": self.limiter.invalid_count(self.client_address, now),
            "banned_for_s": self.limiter.banned_for(self.client_address, now),
            "calls": len(self.calls()),
        }


def _major(params: dict[str, str]) -> str:
    token = params.get("interaction_token")
    for key in ("application_id", "interaction_id"):
        if key in params and token is not None:
            digest = hashlib.sha256(token.encode()).hexdigest()[:12]
            return f"{key}:{params[key]}:{digest}"
    for key in ("channel_id", "guild_id"):
        if key in params:
            return f"{key}:{params[key]}"
    return ""


class RestApi:
    """The request pipeline and the bootstrap handlers, bound to a hub and its REST side."""

    def __init__(self, hub: Hub, side: RestSide) -> None:
        self.hub = hub
        self.side = side

    def _auth(self, request: web.Request) -> str:
        header = request.headers.get("Authorization")
        if header is None:
            return "none"
        return "bot" if header == f"Bot {self.hub.token}" else "invalid"

    def wrap(self, handler: Handler, *, auth: bool = True, exempt: bool = False) -> Handler:
        """The pipeline around one handler (see the module docstring)."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            resource = request.match_info.route.resource
            template = resource.canonical[len(API_PREFIX) :] if resource else request.path
            route = f"{request.method} {template}"
            params = dict(request.match_info)
            request[BODY_KEY] = await read_body(request) if request.can_read_body else None
            record: dict[str, Any] = {}
            response = await self._pipeline(request, handler, route, params, auth, exempt, record)
            if not record.get("banned"):
                # Discord's API answers come through Google's front end; discord.py takes a
                # 429 without this header for a Cloudflare ban and gives up instead of waiting.
                response.headers.setdefault("Via", "1.1 google")
            self._finish(request, response, route, params, record)
            return response

        return wrapped

    async def _pipeline(  # noqa: PLR0917 - internal, called once
        self,
        request: web.Request,
        handler: Handler,
        route: str,
        params: dict[str, str],
        auth: bool,
        exempt: bool,
        record: dict[str, Any],
    ) -> web.StreamResponse:
        side, limiter = self.side, self.side.limiter
        client = request.remote or "?"
        side.client_address = client
        if limiter.banned_for(client, self.hub.now()) is not None:
            record["banned"] = True
            return web.Response(status=403, text=_BAN_BODY, content_type="text/html")
        record["auth"] = self._auth(request)
        if auth and record["auth"] != "bot":
            return error(401, 0, "401: Unauthorized")
        slow = side.faults.take("slow", route)
        if slow is not None:
            record["fault"] = "slow"
            await asyncio.sleep(slow.delay_s)
        now, wall = self.hub.now(), time.time()
        major = _major(params)
        forced = side.faults.take("rate_limit", route)
        if forced is not None:
            record["fault"] = "rate_limit"
            return self._too_many(route, major, forced.scope, forced.retry_after, now, wall)
        failure = side.faults.take("server_error", route)
        if failure is not None:
            record["fault"] = "server_error"
            if failure.status == 502:
                return web.Response(status=502, text=_BAD_GATEWAY_BODY, content_type="text/html")
            return error(failure.status, 0, f"{failure.status}: Internal Server Error")
        if not exempt:
            wait = limiter.take_global(now)
            if wait is not None:
                return self._too_many(route, major, "global", wait, now, wall)
        spec, window, fits = limiter.take(route, major, now)
        if not fits:
            return self._too_many(route, major, "user", window.reset_at - now, now, wall)
        response = await handler(request)
        for key, value in limiter.headers(spec, window, now, wall).items():
            response.headers.setdefault(key, value)
        return response

    def _too_many(  # noqa: PLR0917 - internal
        self, route: str, major: str, scope: str, retry_after: float, now: float, wall: float
    ) -> web.Response:
        """A 429 of ``scope`` (spec 11.3): body, ``Retry-After`` and the scope headers."""
        retry_after = ceil_ms(retry_after)
        is_global = scope == "global"
        response = json_response(
            {"message": "You are being rate limited.", "retry_after": retry_after,
             "global": is_global, "code": 0},
            429,
        )  # fmt: skip
        if not is_global:
            spec, window = self.side.limiter.peek(route, major, now)
            response.headers.update(self.side.limiter.headers(spec, window, now, wall))
            if scope == "user":
                response.headers["X-RateLimit-Remaining"] = "0"
                response.headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
                response.headers["X-RateLimit-Reset"] = f"{wall + retry_after:.3f}"
        else:
            response.headers["X-RateLimit-Global"] = "true"
        response.headers["X-RateLimit-Scope"] = scope
        response.headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
        return response

    def _finish(
        self,
        request: web.Request,
        response: web.StreamResponse,
        route: str,
        params: dict[str, str],
        record: dict[str, Any],
    ) -> None:
        status = response.status
        scope = response.headers.get("X-RateLimit-Scope")
        counted = not record.get("banned") and (
            status in (401, 403) or (status == 429 and scope != "shared")
        )
        if counted:
            client = request.remote or "?"
            if self.side.limiter.count_invalid(client, self.hub.now()):
                self.hub.log.add(
                    "rest_banned", client=client, duration_s=self.side.limits.ban_duration_s
                )
        path = request.path
        for name in _SECRET_PARAMS:
            if name in params:
                path = path.replace(params[name], "<token>")
        body = request.get(BODY_KEY)
        data: dict[str, Any] = {k: params[k] for k in _LOGGED_PARAMS if k in params}
        self.hub.log.add(
            "rest",
            method=request.method, path=path, route=route, status=status,
            query=dict(request.query), body=None if body is INVALID else body,
            bucket=response.headers.get("X-RateLimit-Bucket"),
            remaining=response.headers.get("X-RateLimit-Remaining"),
            scope=scope, result_id=request.get(RESULT_KEY), invalid=counted,
            **record, **data,
        )  # fmt: skip

    # bootstrap handlers ------------------------------------------------------------------

    async def gateway(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway (spec 1.1)."""
        return json_response({"url": self.hub.gateway_url})

    async def gateway_bot(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway/bot (spec 1.1): url, shards, session_start_limit."""
        config = self.hub.config
        return json_response({
            "url": self.hub.gateway_url,
            "shards": config.shards,
            "session_start_limit": {
                "total": config.session_start_total,
                "remaining": self.hub.budget_remaining(),
                "reset_after": self.hub.budget_reset_after_ms(),
                "max_concurrency": config.max_concurrency,
            },
        })  # fmt: skip

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
        channel = self.hub.world.channel(digits(request.match_info["channel_id"]))
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        return json_response(channel_payload(channel))

    def _guild(self, request: web.Request) -> Guild | web.Response:
        guild = self.hub.world.guilds.get(digits(request.match_info["guild_id"]))
        return error(404, 10004, "Unknown Guild") if guild is None else guild

    async def get_guild(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}."""
        guild = self._guild(request)
        if not isinstance(guild, Guild):
            return guild
        return json_response(guild_payload(guild))

    async def get_member(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/members/{user_id}."""
        guild = self._guild(request)
        if not isinstance(guild, Guild):
            return guild
        member = guild.members.get(digits(request.match_info["user_id"]))
        if member is None:
            return error(404, 10007, "Unknown Member")
        return json_response(member_payload(member))

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        """GET /users/{id}."""
        user = self.hub.world.user(digits(request.match_info["user_id"]))
        if user is None:
            return error(404, 10013, "Unknown User")
        return json_response(user_payload(user))

    async def guild_channels(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/channels (threads are not listed, as on Discord)."""
        guild = self._guild(request)
        if not isinstance(guild, Guild):
            return guild
        return json_response([channel_payload(c) for c in guild.channels])

    async def guild_roles(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/roles."""
        guild = self._guild(request)
        if not isinstance(guild, Guild):
            return guild
        return json_response([role_payload(r) for r in guild.roles])

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Any other /api/v10 route."""
        return error(404, 0, "404: Not Found")


def add_rest_routes(app: web.Application, hub: Hub, side: RestSide | None = None) -> RestSide:
    """Register the REST routes on ``app``; returns the REST side they use."""
    side = side if side is not None else RestSide(hub)
    api = RestApi(hub, side)
    messages = MessageRoutes(hub, side.messages, side.faults.forbidden_channels)
    answers = InteractionRoutes(hub, side.interactions, messages, side.limits)
    p, w = API_PREFIX, api.wrap
    message = "/channels/{channel_id}/messages/{message_id}"
    original = "/webhooks/{application_id}/{interaction_token}/messages/@original"
    for method, path, handler, auth in [
        ("GET", "/gateway", api.gateway, False),
        ("GET", "/gateway/bot", api.gateway_bot, True),
        ("GET", "/users/@me", api.me, True),
        ("GET", "/oauth2/applications/@me", api.application, True),
        ("GET", "/applications/@me", api.application, True),
        ("GET", "/channels/{channel_id}", api.get_channel, True),
        ("GET", "/guilds/{guild_id}", api.get_guild, True),
        ("GET", "/guilds/{guild_id}/members/{user_id}", api.get_member, True),
        ("GET", "/guilds/{guild_id}/channels", api.guild_channels, True),
        ("GET", "/guilds/{guild_id}/roles", api.guild_roles, True),
        ("GET", "/users/{user_id}", api.get_user, True),
        ("GET", "/channels/{channel_id}/messages", messages.history, True),
        ("POST", "/channels/{channel_id}/messages", messages.create, True),
        ("GET", message, messages.get, True),
        ("PATCH", message, messages.edit, True),
        ("DELETE", message, messages.delete, True),
        ("PUT", message + "/reactions/{emoji}/@me", messages.react, True),
        ("POST", "/channels/{channel_id}/typing", messages.typing, True),
    ]:
        app.router.add_route(method, p + path, w(handler, auth=auth))
    for method, path, handler in [
        ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", answers.callback),
        ("GET", original, answers.get_original),
        ("PATCH", original, answers.edit_original),
        ("DELETE", original, answers.delete_original),
        ("POST", "/webhooks/{application_id}/{interaction_token}", answers.followup),
    ]:
        app.router.add_route(method, p + path, w(handler, auth=False, exempt=True))
    app.router.add_route("*", p + "/{tail:.*}", w(api.not_found, auth=False))
    return side
