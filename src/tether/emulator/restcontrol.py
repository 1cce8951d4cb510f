"""The REST half of the control API, under ``/_emulator/`` (see ``CONTROL_API.md``).

- ``GET  /_emulator/rest``: limits, pending REST faults, invalid-request count, ban state.
- ``GET  /_emulator/rest/calls?method=&route=&status=&channel_id=&since=``: every REST call
  the emulator received (``rest`` log records), filtered; ``{"calls": [...], "next": n}``.
- ``GET  /_emulator/rest/messages?channel_id=&author_id=``: the messages the emulator knows
  (``author_id=bot`` for the bot's own), oldest first.
- ``GET|POST /_emulator/rest/limits``: read or change
  :class:`~tether.emulator.ratelimit.RestLimits` (``routes`` as ``{route: {name, limit,
  window_s}}``).
- ``POST /_emulator/rest/faults/<name>`` ``{kwargs}``: call ``emu.rest.faults.<name>``.
- ``POST /_emulator/interactions`` ``{"channel_id", "name"?, "user_id"?, "options"?, "type"?,
  "custom_id"?}``: dispatch an INTERACTION_CREATE; answers its payload.
- ``POST /_emulator/interactions/<id>/expire``: make it late (its callback gets 10062).
"""

from __future__ import annotations

import inspect
from typing import Any

from aiohttp import web

from tether.emulator.replies import json_response
from tether.emulator.rest import RestSide
from tether.emulator.restfaults import REST_FAULT_NAMES
from tether.wire.codec import DecodeError, decode_json

__all__ = ["add_rest_control_routes"]

_PREFIX = "/_emulator"
_FILTERS = ("method", "route", "channel_id", "guild_id", "message_id", "interaction_id")


def _bad(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        value = decode_json(text)
    except DecodeError as exc:
        return _bad(400, f"invalid JSON: {exc}")
    return value if isinstance(value, dict) else _bad(400, "body must be a JSON object")


class RestControl:
    """Control handlers for one emulator's REST side."""

    def __init__(self, side: RestSide) -> None:
        self.side = side

    async def state(self, request: web.Request) -> web.StreamResponse:
        """GET /_emulator/rest."""
        return json_response(self.side.state())

    async def calls(self, request: web.Request) -> web.StreamResponse:
        """GET /_emulator/rest/calls."""
        query = request.query
        fields: dict[str, Any] = {k: query[k] for k in _FILTERS if k in query}
        if "status" in query:
            if not query["status"].isdigit():
                return _bad(400, "status must be an integer")
            fields["status"] = int(query["status"])
        since = query.get("since", "0")
        if not since.isdigit():
            return _bad(400, "since must be a non-negative integer")
        records = self.side.calls(since=int(since), **fields)
        return json_response(
            {"calls": [r.as_dict() for r in records], "next": len(self.side.hub.log)}
        )

    async def messages(self, request: web.Request) -> web.StreamResponse:
        """GET /_emulator/rest/messages."""
        author = request.query.get("author_id")
        if author == "bot":
            author = str(self.side.hub.world.bot.id)
        found = self.side.messages.all(request.query.get("channel_id"), author)
        return json_response({"messages": found})

    async def get_limits(self, request: web.Request) -> web.StreamResponse:
        """GET /_emulator/rest/limits."""
        return json_response(self.side.limits.as_dict())

    async def set_limits(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/rest/limits {field: value}."""
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        try:
            self.side.configure(**body)
        except KeyError as exc:
            return _bad(400, f"unknown limits field {exc}")
        except (TypeError, ValueError) as exc:
            return _bad(400, str(exc))
        self.side.hub.log.add("config", rest_limits=body)
        return json_response(self.side.limits.as_dict())

    async def fault(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/rest/faults/<name>."""
        name = request.match_info["name"]
        if name not in REST_FAULT_NAMES:
            return _bad(404, f"unknown REST fault {name!r}; known: {', '.join(REST_FAULT_NAMES)}")
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        method = getattr(self.side.faults, name)
        try:
            inspect.signature(method).bind(**body)
            result = method(**body)
        except (TypeError, ValueError) as exc:
            return _bad(400, f"{name}: {exc}")
        return json_response({"result": result})

    async def interaction(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/interactions."""
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        if "channel_id" not in body:
            return _bad(400, "channel_id is required")
        try:
            payload = self.side.interactions.create(
                body["channel_id"],
                str(body.get("name", "ping")),
                user_id=body.get("user_id"),
                options=body.get("options"),
                type=int(body.get("type", 2)),
                custom_id=body.get("custom_id"),
            )
        except KeyError as exc:
            return _bad(404, str(exc))
        return json_response(payload)

    async def expire(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/interactions/<id>/expire."""
        try:
            self.side.interactions.expire(request.match_info["interaction_id"])
        except KeyError:
            return _bad(404, "unknown interaction")
        return json_response({"result": None})


def add_rest_control_routes(app: web.Application, side: RestSide) -> None:
    """Register the REST control routes on ``app``."""
    api = RestControl(side)
    router, p = app.router, _PREFIX
    router.add_get(f"{p}/rest", api.state)
    router.add_get(f"{p}/rest/calls", api.calls)
    router.add_get(f"{p}/rest/messages", api.messages)
    router.add_get(f"{p}/rest/limits", api.get_limits)
    router.add_post(f"{p}/rest/limits", api.set_limits)
    router.add_post(p + "/rest/faults/{name}", api.fault)
    router.add_post(f"{p}/interactions", api.interaction)
    router.add_post(p + "/interactions/{interaction_id}/expire", api.expire)
