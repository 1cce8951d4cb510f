"""The HTTP control API under ``/_emulator/`` (spec 14: every knob reachable from any language).

All bodies and answers are JSON (``Content-Type: application/json``). Errors answer
``{"error": "..."}`` with status 400 (bad arguments) or 404 (unknown name).

Endpoints:

- ``GET  /_emulator/state``: sessions, live connections, counters, pending faults.
- ``GET  /_emulator/log?since=N&kind=K``: log records from index N (optionally one kind).
- ``POST /_emulator/wait`` ``{"kind", "since"?, "timeout"?, "where"?: {...}}``: long-poll
  until a matching log record exists; 200 with the record, 408 on timeout.
- ``GET  /_emulator/config``; ``POST /_emulator/config`` ``{field: value, ...}``: read or
  change :class:`~tether.emulator.config.EmulatorConfig` fields at run time.
- ``GET  /_emulator/world``: guild, channel and member ids.
- ``POST /_emulator/dispatch`` ``{"event", "data", "guild_id"?, "copies"?, "raw"?}``:
  ``{"sessions": n}``.
- ``POST /_emulator/messages`` ``{"channel_id", "content", "author_id"?}``: the message.
- ``POST /_emulator/guilds/join`` ``{"name"?}``: ``{"guild_id", "sessions"}``.
- ``POST /_emulator/guilds/leave`` ``{"guild_id"}``: ``{"sessions"}``.
- ``POST /_emulator/faults/<name>`` ``{kwargs}``: call ``emu.faults.<name>(**kwargs)``;
  answers ``{"result": ...}``. Names: see :data:`~tether.emulator.faults.FAULT_NAMES`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tether.emulator.faults import FAULT_NAMES
from tether.emulator.log import LogRecord
from tether.emulator.rest import json_response
from tether.wire.codec import DecodeError, decode_json

if TYPE_CHECKING:
    from tether.emulator.server import Emulator

__all__ = ["CONTROL_PREFIX", "add_control_routes"]

CONTROL_PREFIX = "/_emulator"


def _any(_record: LogRecord) -> bool:
    return True


def _bad(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        value = decode_json(text)
    except DecodeError as exc:
        raise web.HTTPBadRequest(
            text=f'{{"error": "invalid JSON: {exc}"}}', content_type="application/json"
        ) from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body must be a JSON object"}', content_type="application/json"
        )
    return value


class ControlApi:
    """Control handlers bound to an emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def state(self, request: web.Request) -> web.StreamResponse:
        """GET /_emulator/state."""
        return json_response(self.emu.hub.state())

    async def log(self, request: web.Request) -> web.StreamResponse:
        """GET /_emulator/log?since=N&kind=K."""
        since_raw = request.query.get("since", "0")
        if not since_raw.isdigit():
            return _bad(400, "since must be a non-negative integer")
        kind = request.query.get("kind")
        log = self.emu.log
        records = log.find(kind or _any, since=int(since_raw))
        return json_response({"records": [r.as_dict() for r in records], "next": len(self.emu.log)})

    async def wait(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/wait: long-poll for a log record."""
        body = await _body(request)
        kind = body.get("kind")
        where = body.get("where") or {}
        if not isinstance(kind, str) or not isinstance(where, dict):
            return _bad(400, "kind must be a string and where an object")
        try:
            record = await self.emu.log.wait_for(
                kind,
                timeout=float(body.get("timeout", 5.0)),
                since=int(body.get("since", 0)),
                **where,
            )
        except TimeoutError:
            return _bad(408, f"no {kind} record in time")
        return json_response(record.as_dict())

    async def get_config(self, request: web.Request) -> web.StreamResponse:
        """GET /_emulator/config."""
        return json_response(self.emu.config.as_dict())

    async def set_config(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/config {field: value}."""
        body = await _body(request)
        try:
            self.emu.config.update(**body)
        except KeyError as exc:
            return _bad(400, f"unknown config field {exc}")
        except TypeError as exc:
            return _bad(400, str(exc))
        self.emu.log.add("config", changes=body)
        return json_response(self.emu.config.as_dict())

    async def world(self, request: web.Request) -> web.StreamResponse:
        """GET /_emulator/world."""
        return json_response(self.emu.world.summary())

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/dispatch."""
        body = await _body(request)
        event = body.get("event")
        if not isinstance(event, str) or "data" not in body:
            return _bad(400, "event (string) and data are required")
        count = await self.emu.dispatch(
            event,
            body["data"],
            guild_id=body.get("guild_id"),
            copies=int(body.get("copies", 1)),
            raw=bool(body.get("raw", False)),
        )
        return json_response({"sessions": count})

    async def message(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/messages."""
        body = await _body(request)
        if "channel_id" not in body or not isinstance(body.get("content"), str):
            return _bad(400, "channel_id and content (string) are required")
        try:
            message = await self.emu.send_message(
                body["channel_id"], body["content"], author=body.get("author_id")
            )
        except KeyError as exc:
            return _bad(404, str(exc))
        return json_response(message)

    async def join(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/guilds/join."""
        body = await _body(request)
        guild, count = await self.emu.join_guild(body.get("name"))
        return json_response({"guild_id": str(guild.id), "sessions": count})

    async def leave(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/guilds/leave."""
        body = await _body(request)
        try:
            count = await self.emu.leave_guild(body["guild_id"])
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(404, f"unknown guild {exc}")
        return json_response({"sessions": count})

    async def fault(self, request: web.Request) -> web.StreamResponse:
        """POST /_emulator/faults/<name> {kwargs}."""
        name = request.match_info["name"]
        if name not in FAULT_NAMES:
            return _bad(404, f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        method = getattr(self.emu.faults, name)
        body = await _body(request)
        try:
            inspect.signature(method).bind(**body)
        except TypeError as exc:
            return _bad(400, f"{name}: {exc}")
        try:
            result = method(**body)
        except (ValueError, KeyError, TypeError) as exc:
            return _bad(400, f"{name}: {exc}")
        return json_response({"result": result})


def add_control_routes(app: web.Application, emu: Emulator) -> None:
    """Register the ``/_emulator/`` routes on ``app``."""
    api = ControlApi(emu)
    p = CONTROL_PREFIX
    router = app.router
    router.add_get(f"{p}/state", api.state)
    router.add_get(f"{p}/log", api.log)
    router.add_post(f"{p}/wait", api.wait)
    router.add_get(f"{p}/config", api.get_config)
    router.add_post(f"{p}/config", api.set_config)
    router.add_get(f"{p}/world", api.world)
    router.add_post(f"{p}/dispatch", api.dispatch)
    router.add_post(f"{p}/messages", api.message)
    router.add_post(f"{p}/guilds/join", api.join)
    router.add_post(f"{p}/guilds/leave", api.leave)
    router.add_post(p + "/faults/{name}", api.fault)
