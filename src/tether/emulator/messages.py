"""Messages over REST (spec 10.8, 11.6, 14 A5): create, get, edit, delete, react, type.

The :class:`MessageStore` remembers every message the emulator made (over REST, through
``emu.send_message`` or as an interaction answer), so replies can reference them and edits
and reactions find them. Every change is dispatched as the gateway would: MESSAGE_CREATE,
MESSAGE_UPDATE, MESSAGE_DELETE, MESSAGE_REACTION_ADD, TYPING_START. Stored messages are
private copies: dispatched payloads (kept in replay buffers) are never mutated afterwards.
"""

from __future__ import annotations

import bisect
import copy
import datetime
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web

from tether.emulator.hub import Hub
from tether.emulator.payloads import member_payload, message_payload, user_payload
from tether.emulator.replies import (
    BODY_KEY,
    INVALID,
    RESULT_KEY,
    digits,
    error,
    form_error,
    json_response,
)
from tether.emulator.world import CHANNEL_CATEGORY, CHANNEL_VOICE, Channel, User

__all__ = ["MessageRoutes", "MessageStore", "build_message", "rest_view", "validate_message_body"]

_MAX_CONTENT = 2000
_MAX_EMBEDS = 10
_CONTENT_FIELDS = ("content", "embeds", "sticker_ids", "components", "files", "poll", "attachments")
_MENTION_KINDS = frozenset({"users", "roles", "everyone"})
_REPLY = 19
_EPHEMERAL = 1 << 6
_HISTORY_DEFAULT = 50
_HISTORY_MAX = 100


def now_iso() -> str:
    """The current time in Discord's ISO 8601 form."""
    return datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="microseconds")


class MessageStore:
    """Every message the emulator made, by id (bounded: the oldest are forgotten first).

    Args:
        capacity: messages kept.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._messages: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def remember(self, message: dict[str, Any]) -> None:
        """Store a copy of ``message`` (a new one, or a new version of a known one)."""
        self._messages[int(message["id"])] = copy.deepcopy(message)
        while len(self._messages) > self.capacity:
            self._messages.popitem(last=False)

    def get(
        self, message_id: int | str, channel_id: int | str | None = None
    ) -> dict[str, Any] | None:
        """A copy of a message (None if unknown, or not in ``channel_id`` when given)."""
        message = self._messages.get(int(message_id))
        if message is None:
            return None
        if channel_id is not None and message["channel_id"] != str(channel_id):
            return None
        return copy.deepcopy(message)

    def forget(self, message_id: int | str) -> None:
        """The message was deleted."""
        self._messages.pop(int(message_id), None)

    def all(
        self, channel_id: int | str | None = None, author_id: int | str | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the stored messages in creation order, optionally filtered."""
        found = []
        for message in self._messages.values():
            if channel_id is not None and message["channel_id"] != str(channel_id):
                continue
            if author_id is not None and message["author"]["id"] != str(author_id):
                continue
            found.append(copy.deepcopy(message))
        return found


def validate_message_body(
    body: Any, store: MessageStore, channel: Channel, *, require_content: bool = True
) -> web.Response | None:
    """The 400 answer a message body deserves (spec 11.5, 11.6), or None if it is valid."""
    if body is INVALID or (body is not None and not isinstance(body, dict)):
        return error(400, 50109, "The request body contains invalid JSON.")
    body = body or {}
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        return form_error("content", "BASE_TYPE_STRING", "Must be a string.")
    if isinstance(content, str) and len(content) > _MAX_CONTENT:
        return form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds")
    if embeds is not None and (
        not isinstance(embeds, list) or not all(isinstance(e, dict) for e in embeds)
    ):
        return form_error("embeds", "BASE_TYPE_LIST", "Must be a list of embed objects.")
    if isinstance(embeds, list) and len(embeds) > _MAX_EMBEDS:
        return form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        problem = _mentions_problem(mentions)
        if problem is not None:
            return form_error("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_INVALID", problem)
    reference = body.get("message_reference")
    if reference is not None:
        if not isinstance(reference, dict) or reference.get("message_id") is None:
            return form_error("message_reference", "BASE_TYPE_REQUIRED", "This field is required")
        target = reference.get("channel_id") or channel.id
        ident = str(reference["message_id"])
        found = store.get(ident, target) if ident.isdigit() else None
        if found is None and reference.get("fail_if_not_exists", True):
            return form_error(
                "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
            )
    if require_content and not any(body.get(name) for name in _CONTENT_FIELDS):
        return error(400, 50006, "Cannot send an empty message")
    return None


def _mentions_problem(mentions: Any) -> str | None:
    if not isinstance(mentions, dict):
        return "Must be an object."
    parse = mentions.get("parse", [])
    if not isinstance(parse, list) or not set(parse) <= _MENTION_KINDS:
        return "parse must list users, roles or everyone."
    for kind in ("users", "roles"):
        if kind in parse and mentions.get(kind):
            return f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.'
    return None


def build_message(
    hub: Hub,
    store: MessageStore,
    channel: Channel,
    body: dict[str, Any],
    *,
    author: User,
    **fields: Any,
) -> dict[str, Any]:
    """A new message from a (validated) body, as MESSAGE_CREATE carries it.

    Args:
        fields: extra top-level fields (``webhook_id``, ``interaction_metadata``, ``type``).
    """
    extra = {
        k: body[k] for k in ("nonce", "tts", "embeds", "components") if body.get(k) is not None
    }
    message = message_payload(hub.world, channel, body.get("content") or "", author=author, **extra)
    message["flags"] = int(body.get("flags") or 0)
    reference = body.get("message_reference")
    if isinstance(reference, dict):
        target = store.get(str(reference["message_id"]), reference.get("channel_id") or channel.id)
        if target is not None:
            target.pop("referenced_message", None)
            message["type"] = _REPLY
            message["message_reference"] = {
                "type": 0,
                "message_id": target["id"],
                "channel_id": target["channel_id"],
                **({"guild_id": target["guild_id"]} if "guild_id" in target else {}),
            }
            message["referenced_message"] = {
                k: v for k, v in target.items() if k not in ("member", "guild_id")
            }
            _mention_replied(message, target, body.get("allowed_mentions"))
    message.update(fields)
    return message


def _mention_replied(message: dict[str, Any], target: dict[str, Any], allowed: Any) -> None:
    """Replies ping their target's author unless ``allowed_mentions.replied_user`` is false."""
    if isinstance(allowed, dict) and not allowed.get("replied_user", False):
        return
    author = target["author"]
    if all(m["id"] != author["id"] for m in message["mentions"]):
        message["mentions"].append(dict(author))


def rest_view(message: dict[str, Any]) -> dict[str, Any]:
    """What a REST answer carries: the message without ``member`` and ``guild_id``."""
    return {k: v for k, v in message.items() if k not in ("member", "guild_id")}


class MessageRoutes:
    """Handlers for the message endpoints.

    Args:
        hub: the emulator's shared state.
        store: the message store.
        forbidden: channel ids the bot may not write to (403, 50013).
    """

    def __init__(self, hub: Hub, store: MessageStore, forbidden: set[int]) -> None:
        self.hub = hub
        self.store = store
        self.forbidden = forbidden

    def _channel(self, request: web.Request) -> Channel | web.Response:
        channel = self.hub.world.channel(digits(request.match_info["channel_id"]))
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        return channel

    def _writable(self, request: web.Request) -> Channel | web.Response:
        channel = self._channel(request)
        if isinstance(channel, Channel):
            if channel.type in (CHANNEL_CATEGORY, CHANNEL_VOICE):
                return error(400, 50008, "Cannot send messages in a non-text channel")
            if channel.id in self.forbidden:
                return error(403, 50013, "Missing Permissions")
        return channel

    def _message(self, request: web.Request, channel: Channel) -> dict[str, Any] | web.Response:
        raw = request.match_info["message_id"]
        message = self.store.get(raw, channel.id) if raw.isdigit() else None
        if message is None:
            return error(404, 10008, "Unknown Message")
        return message

    def publish(self, message: dict[str, Any], *, dispatch: bool = True) -> None:
        """Store a new message and dispatch its MESSAGE_CREATE (not for ephemeral ones)."""
        self.store.remember(message)
        if dispatch and not message.get("flags", 0) & _EPHEMERAL:
            guild = message.get("guild_id")
            self.hub.dispatch("MESSAGE_CREATE", copy.deepcopy(message), guild)

    async def create(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/messages (spec 11.6)."""
        channel = self._writable(request)
        if not isinstance(channel, Channel):
            return channel
        body = request.get(BODY_KEY)
        problem = validate_message_body(body, self.store, channel)
        if problem is not None:
            return problem
        assert isinstance(body, dict)
        message = build_message(self.hub, self.store, channel, body, author=self.hub.world.bot)
        self.publish(message)
        request[RESULT_KEY] = message["id"]
        return json_response(rest_view(message))

    async def get(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/messages/{message_id}."""
        channel = self._channel(request)
        if not isinstance(channel, Channel):
            return channel
        message = self._message(request, channel)
        return message if isinstance(message, web.Response) else json_response(rest_view(message))

    async def history(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/messages: at most ``limit`` (1-100, default 50) messages,
        newest first; ``before``/``after``/``around`` (one of them) pick the window as
        Discord does (``after``: the ones right after that id)."""
        channel = self._channel(request)
        if not isinstance(channel, Channel):
            return channel
        query = request.query
        limit_raw = query.get("limit", str(_HISTORY_DEFAULT))
        anchors = [k for k in ("before", "after", "around") if k in query]
        bad = [k for k in anchors if not query[k].isdigit()]
        if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= _HISTORY_MAX or bad:
            field = bad[0] if bad else "limit"
            return error(400, 50035, f"Invalid Form Body ({field})")
        limit = int(limit_raw)
        messages = sorted(
            (m for m in self.store.all(channel.id) if not m.get("flags", 0) & _EPHEMERAL),
            key=lambda m: int(m["id"]),
        )
        ids = [int(m["id"]) for m in messages]
        if "before" in query:
            end = bisect.bisect_left(ids, int(query["before"]))
            window = messages[max(0, end - limit) : end]
        elif "after" in query:
            start = bisect.bisect_right(ids, int(query["after"]))
            window = messages[start : start + limit]
        elif "around" in query:
            middle = bisect.bisect_left(ids, int(query["around"]))
            start = max(0, middle - limit // 2)
            window = messages[start : start + limit]
        else:
            window = messages[-limit:]
        return json_response([rest_view(m) for m in reversed(window)])

    def apply_edit(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Apply an edit body, store it, dispatch MESSAGE_UPDATE; returns the new message."""
        for key in ("content", "embeds", "components", "flags", "attachments"):
            if key in body:
                value = body[key]
                message[key] = value if value is not None else ([] if key != "content" else "")
        message["edited_timestamp"] = now_iso()
        self.store.remember(message)
        if not message.get("flags", 0) & _EPHEMERAL:
            self.hub.dispatch("MESSAGE_UPDATE", copy.deepcopy(message), message.get("guild_id"))
        return message

    async def edit(self, request: web.Request) -> web.StreamResponse:
        """PATCH /channels/{id}/messages/{message_id}: only the bot's own messages."""
        channel = self._writable(request)
        if not isinstance(channel, Channel):
            return channel
        message = self._message(request, channel)
        if isinstance(message, web.Response):
            return message
        if message["author"]["id"] != str(self.hub.world.bot.id):
            return error(403, 50005, "Cannot edit a message authored by another user")
        body = request.get(BODY_KEY)
        problem = validate_message_body(body, self.store, channel, require_content=False)
        if problem is not None:
            return problem
        return json_response(rest_view(self.apply_edit(message, body or {})))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """DELETE /channels/{id}/messages/{message_id}: 204, MESSAGE_DELETE."""
        channel = self._writable(request)
        if not isinstance(channel, Channel):
            return channel
        message = self._message(request, channel)
        if isinstance(message, web.Response):
            return message
        self.store.forget(message["id"])
        payload = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            payload["guild_id"] = message["guild_id"]
        self.hub.dispatch("MESSAGE_DELETE", payload, message.get("guild_id"))
        return web.Response(status=204)

    async def react(self, request: web.Request) -> web.StreamResponse:
        """PUT .../reactions/{emoji}/@me: 204, MESSAGE_REACTION_ADD."""
        channel = self._channel(request)
        if not isinstance(channel, Channel):
            return channel
        message = self._message(request, channel)
        if isinstance(message, web.Response):
            return message
        emoji = _emoji(request.match_info["emoji"])
        if emoji is None:
            return error(400, 10014, "Unknown Emoji")
        bot = self.hub.world.bot
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["emoji"] == emoji), None)
        if entry is not None and entry["me"]:
            return web.Response(status=204)
        if entry is None:
            entry = {"emoji": emoji, "count": 0, "me": False, "burst_colors": [],
                     "count_details": {"burst": 0, "normal": 0}, "me_burst": False}  # fmt: skip
            reactions.append(entry)
        entry["count"] += 1
        entry["count_details"]["normal"] += 1
        entry["me"] = True
        self.store.remember(message)
        payload: dict[str, Any] = {
            "user_id": str(bot.id), "channel_id": message["channel_id"],
            "message_id": message["id"], "emoji": emoji, "burst": False, "type": 0,
            "message_author_id": message["author"]["id"],
        }  # fmt: skip
        self._add_guild(payload, channel, bot)
        self.hub.dispatch("MESSAGE_REACTION_ADD", payload, channel.guild_id)
        return web.Response(status=204)

    async def typing(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/typing: 204, TYPING_START."""
        channel = self._writable(request)
        if not isinstance(channel, Channel):
            return channel
        bot = self.hub.world.bot
        payload: dict[str, Any] = {
            "channel_id": str(channel.id),
            "user_id": str(bot.id),
            "timestamp": int(time.time()),
        }
        self._add_guild(payload, channel, bot)
        self.hub.dispatch("TYPING_START", payload, channel.guild_id)
        return web.Response(status=204)

    def _add_guild(self, payload: dict[str, Any], channel: Channel, bot: User) -> None:
        if channel.guild_id is None:
            return
        payload["guild_id"] = str(channel.guild_id)
        member = self.hub.world.member(channel.guild_id, bot.id)
        if member is not None:
            payload["member"] = member_payload(member)
        else:
            payload["member"] = {"user": user_payload(bot), "roles": []}


def _emoji(raw: str) -> dict[str, Any] | None:
    """``{"id", "name"}`` for a unicode emoji or ``name:id``; None when it is neither."""
    if ":" in raw:
        name, _, ident = raw.partition(":")
        return {"id": ident, "name": name} if ident.isdigit() and name else None
    if raw and not raw.isascii():
        return {"id": None, "name": raw}
    return None
