"""Interactions (spec 10.11, 11.6, 14 A6): INTERACTION_CREATE and the answers to it.

``emu.rest.interactions.create(channel_id, "ping")`` dispatches an application command
the way Discord does over the gateway. The bot answers over HTTP:

- ``POST /interactions/{id}/{token}/callback``: no auth needed; 204 on the first valid
  callback within ``interaction_window_s`` (3 s) of the dispatch; 200 with a body when
  ``?with_response=true``; 400/40060 on a second callback; 404/10062 when late (or after
  :meth:`InteractionStore.expire`) or unknown.
- ``GET|PATCH|DELETE /webhooks/{application_id}/{token}/messages/@original`` and
  ``POST /webhooks/{application_id}/{token}`` (follow-ups): valid for
  ``interaction_token_ttl_s`` (15 min); 404/10015 for an unknown webhook, 401/50027
  once the token expired.

Answers that create or change a visible message dispatch MESSAGE_CREATE / MESSAGE_UPDATE;
ephemeral ones (flag 64) dispatch nothing, as on Discord.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from aiohttp import web

from tether.emulator.hub import Hub
from tether.emulator.messages import (
    MessageRoutes,
    MessageStore,
    build_message,
    rest_view,
    validate_message_body,
)
from tether.emulator.payloads import channel_payload, member_payload, user_payload
from tether.emulator.ratelimit import RestLimits
from tether.emulator.replies import (
    BODY_KEY,
    INVALID,
    RESULT_KEY,
    digits,
    error,
    form_error,
    json_response,
)
from tether.emulator.world import Channel

__all__ = ["InteractionRecord", "InteractionRoutes", "InteractionStore"]

_PING, _COMMAND, _COMPONENT, _AUTOCOMPLETE = 1, 2, 3, 4
_MESSAGE, _DEFERRED, _DEFERRED_UPDATE, _UPDATE, _CHOICES, _MODAL = 4, 5, 6, 7, 8, 9
_VALID_CALLBACKS = {
    _PING: {1},
    _COMMAND: {_MESSAGE, _DEFERRED, _MODAL},
    _COMPONENT: {_MESSAGE, _DEFERRED, _DEFERRED_UPDATE, _UPDATE, _MODAL},
    _AUTOCOMPLETE: {_CHOICES},
    5: {_MESSAGE, _DEFERRED, _DEFERRED_UPDATE, _UPDATE},
}
_LOADING = 1 << 7
_EPHEMERAL = 1 << 6
_CHAT_INPUT_COMMAND_MESSAGE = 20


@dataclasses.dataclass
class InteractionRecord:
    """One interaction the emulator dispatched, and what was answered.

    Attributes:
        payload: the INTERACTION_CREATE ``d``.
        created_at: loop time of the dispatch.
        callback_type: the accepted initial callback (None: not answered yet).
        answered_at: loop time of that callback.
        original_message_id: the response message (types 4 and 5), if any.
        followups: ids of follow-up messages.
        expired: forced late by :meth:`InteractionStore.expire`.
    """

    payload: dict[str, Any]
    created_at: float
    callback_type: int | None = None
    answered_at: float | None = None
    original_message_id: str | None = None
    followups: list[str] = dataclasses.field(default_factory=list)
    expired: bool = False

    @property
    def id(self) -> str:
        """The interaction id (a string, as in the payload)."""
        return str(self.payload["id"])

    @property
    def token(self) -> str:
        """The interaction token."""
        return str(self.payload["token"])


class InteractionStore:
    """Interactions by id, created and dispatched on demand.

    Args:
        hub: the emulator's shared state.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.records: dict[str, InteractionRecord] = {}

    def create(
        self,
        channel_id: int | str,
        name: str = "ping",
        *,
        user_id: int | str | None = None,
        options: list[dict[str, Any]] | None = None,
        type: int = _COMMAND,
        custom_id: str | None = None,
    ) -> dict[str, Any]:
        """Dispatch an INTERACTION_CREATE from a user in a channel and return its payload.

        Args:
            channel_id: a guild text channel (or a DM channel) of the world.
            name: the application command's name (type 2).
            user_id: who triggered it (default: the first human member of the guild).
            options: the command's options.
            type: 2 APPLICATION_COMMAND or 3 MESSAGE_COMPONENT (with ``custom_id``).

        Raises:
            KeyError: unknown channel or user.
        """
        world = self.hub.world
        channel = world.channel(channel_id)
        if channel is None:
            raise KeyError(f"unknown channel {channel_id}")
        payload = self._payload(
            channel, name, user_id=user_id, options=options, kind=type, custom_id=custom_id
        )
        self.records[payload["id"]] = InteractionRecord(payload, self.hub.now())
        self.hub.dispatch("INTERACTION_CREATE", payload, channel.guild_id)
        return payload

    def _payload(
        self,
        channel: Channel,
        name: str,
        *,
        user_id: int | str | None,
        options: list[dict[str, Any]] | None,
        kind: int,
        custom_id: str | None,
    ) -> dict[str, Any]:
        world = self.hub.world
        if user_id is None and channel.guild_id is not None:
            humans = [m for m in world.guild(channel.guild_id).members.values() if not m.user.bot]
            user_id = humans[0].user.id if humans else world.bot.id
        user = world.user(user_id if user_id is not None else channel.recipient_id or 0)
        if user is None:
            raise KeyError(f"unknown user {user_id}")
        data: dict[str, Any]
        if kind == _COMPONENT:
            data = {"custom_id": custom_id or name, "component_type": 2}
        else:
            data = {"id": str(world.new_id()), "name": name, "type": 1, "options": options or []}
        payload: dict[str, Any] = {
            "id": str(world.new_id()), "application_id": str(world.application_id),
            "type": kind, "data": data, "channel_id": str(channel.id),
            "channel": channel_payload(channel), "token": "emu." + secrets.token_urlsafe(48),
            "version": 1, "app_permissions": "1125899906842623", "locale": "en-US",
            "entitlements": [], "authorizing_integration_owners": {}, "context": 0,
            "attachment_size_limit": 26_214_400,
        }  # fmt: skip
        if channel.guild_id is not None:
            member = world.member(channel.guild_id, user.id)
            payload["guild_id"] = str(channel.guild_id)
            payload["guild_locale"] = "en-US"
            payload["member"] = {
                **(member_payload(member) if member else {"user": user_payload(user)}),
                "permissions": "1071698660929",
            }
            payload["authorizing_integration_owners"] = {"0": str(channel.guild_id)}
        else:
            payload["user"] = user_payload(user)
            payload["context"] = 1
        return payload

    def get(self, interaction_id: int | str) -> InteractionRecord | None:
        """The record of an interaction, if known."""
        return self.records.get(str(interaction_id))

    def by_token(self, token: str) -> InteractionRecord | None:
        """The interaction whose token this is."""
        return next((r for r in self.records.values() if r.token == token), None)

    def expire(self, interaction_id: int | str) -> None:
        """Make the interaction late at once: its first callback gets 404/10062.

        Raises:
            KeyError: unknown interaction.
        """
        self.records[str(interaction_id)].expired = True
        self.hub.log.add("fault", name="expire_interaction", interaction_id=str(interaction_id))


class InteractionRoutes:
    """Handlers for the interaction callback and the interaction webhook endpoints."""

    def __init__(
        self, hub: Hub, store: InteractionStore, messages: MessageRoutes, limits: RestLimits
    ) -> None:
        self.hub = hub
        self.store = store
        self.messages = messages
        self.limits = limits

    @property
    def _messages(self) -> MessageStore:
        return self.messages.store

    async def callback(self, request: web.Request) -> web.StreamResponse:
        """POST /interactions/{id}/{token}/callback (spec 11.6)."""
        record = self.store.get(request.match_info["interaction_id"])
        if record is None or record.token != request.match_info["interaction_token"]:
            return error(404, 10062, "Unknown interaction")
        if record.callback_type is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        now = self.hub.now()
        if record.expired or now - record.created_at > self.limits.interaction_window_s:
            return error(404, 10062, "Unknown interaction")
        body = request.get(BODY_KEY)
        if not isinstance(body, dict) or body is INVALID:
            return error(400, 50109, "The request body contains invalid JSON.")
        kind = body.get("type")
        if kind not in _VALID_CALLBACKS.get(record.payload["type"], set()):
            return form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid callback type.")
        raw = body.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        message = self._answer(record, int(kind), data)
        if isinstance(message, web.Response):
            return message
        record.callback_type = int(kind)
        record.answered_at = now
        if message is not None:
            record.original_message_id = message["id"]
            request[RESULT_KEY] = message["id"]
        if request.query.get("with_response", "").lower() not in ("true", "1"):
            return web.Response(status=204)
        flags = int(message.get("flags", 0)) if message else 0
        return json_response({
            "interaction": {
                "id": record.id, "type": record.payload["type"], "activity_instance_id": None,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": bool(flags & _LOADING),
                "response_message_ephemeral": bool(flags & _EPHEMERAL),
            },
            "resource": {"type": kind, **({"message": rest_view(message)} if message else {})},
        })  # fmt: skip

    def _answer(
        self, record: InteractionRecord, kind: int, data: dict[str, Any]
    ) -> dict[str, Any] | web.Response | None:
        """Create the response message of a callback (types 4 and 5), or None."""
        if kind not in (_MESSAGE, _DEFERRED):
            return None
        channel = self.hub.world.channel(record.payload["channel_id"])
        assert channel is not None
        if kind == _MESSAGE:
            problem = validate_message_body(data, self._messages, channel)
            if problem is not None:
                return problem
            body = dict(data)
        else:
            body = {"content": "", "flags": _LOADING | (int(data.get("flags") or 0) & _EPHEMERAL)}
        message = self._build(record, channel, body, _CHAT_INPUT_COMMAND_MESSAGE)
        self.messages.publish(message)
        return message

    def _build(
        self, record: InteractionRecord, channel: Channel, body: dict[str, Any], kind: int
    ) -> dict[str, Any]:
        payload = record.payload
        user = (payload.get("member") or {}).get("user") or payload.get("user")
        return build_message(
            self.hub, self._messages, channel, body, author=self.hub.world.bot,
            type=kind, webhook_id=payload["application_id"],
            application_id=payload["application_id"],
            interaction_metadata={
                "id": record.id, "type": payload["type"], "user": user,
                "authorizing_integration_owners": payload["authorizing_integration_owners"],
                "name": payload["data"].get("name"),
            },
        )  # fmt: skip

    def _webhook(self, request: web.Request) -> InteractionRecord | web.Response:
        app = digits(request.match_info["application_id"])
        record = self.store.by_token(request.match_info["interaction_token"])
        if app != self.hub.world.application_id or record is None:
            return error(404, 10015, "Unknown Webhook")
        if self.hub.now() - record.created_at > self.limits.interaction_token_ttl_s:
            return error(401, 50027, "Invalid Webhook Token")
        return record

    def _original(self, record: InteractionRecord) -> dict[str, Any] | web.Response:
        message_id = record.original_message_id
        message = None if message_id is None else self._messages.get(message_id)
        if message is None:
            return error(404, 10008, "Unknown Message")
        return message

    async def get_original(self, request: web.Request) -> web.StreamResponse:
        """GET /webhooks/{app}/{token}/messages/@original."""
        record = self._webhook(request)
        if isinstance(record, web.Response):
            return record
        message = self._original(record)
        return message if isinstance(message, web.Response) else json_response(rest_view(message))

    async def edit_original(self, request: web.Request) -> web.StreamResponse:
        """PATCH /webhooks/{app}/{token}/messages/@original (a deferred answer stops loading)."""
        record = self._webhook(request)
        if isinstance(record, web.Response):
            return record
        message = self._original(record)
        if isinstance(message, web.Response):
            return message
        channel = self.hub.world.channel(message["channel_id"])
        assert channel is not None
        body = request.get(BODY_KEY)
        problem = validate_message_body(body, self._messages, channel, require_content=False)
        if problem is not None:
            return problem
        message["flags"] = int(message.get("flags", 0)) & ~_LOADING
        edited = self.messages.apply_edit(message, body or {})
        request[RESULT_KEY] = edited["id"]
        return json_response(rest_view(edited))

    async def delete_original(self, request: web.Request) -> web.StreamResponse:
        """DELETE /webhooks/{app}/{token}/messages/@original."""
        record = self._webhook(request)
        if isinstance(record, web.Response):
            return record
        message = self._original(record)
        if isinstance(message, web.Response):
            return message
        self._messages.forget(message["id"])
        record.original_message_id = None
        payload = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            payload["guild_id"] = message["guild_id"]
        self.hub.dispatch("MESSAGE_DELETE", payload, message.get("guild_id"))
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.StreamResponse:
        """POST /webhooks/{app}/{token}: a follow-up message (needs an initial answer first)."""
        record = self._webhook(request)
        if isinstance(record, web.Response):
            return record
        if record.callback_type is None:
            return error(404, 10015, "Unknown Webhook")
        channel = self.hub.world.channel(record.payload["channel_id"])
        assert channel is not None
        body = request.get(BODY_KEY)
        problem = validate_message_body(body, self._messages, channel)
        if problem is not None:
            return problem
        assert isinstance(body, dict)
        message = self._build(record, channel, body, 0)
        self.messages.publish(message)
        record.followups.append(message["id"])
        request[RESULT_KEY] = message["id"]
        return json_response(rest_view(message))
