"""Answering INTERACTION_CREATE within Discord's 3 s window (spec 10.11, 11.6).

:class:`InteractionBook` (pure, takes ``now``) remembers when each interaction arrived and
whether it was answered, so a late or second initial answer fails *before* it is sent,
with an error that says why. :class:`Interaction` wraps one interaction for a handler::

    @client.on("INTERACTION_CREATE")
    async def on_interaction(event):
        interaction = client.rest.interaction(event)
        await interaction.defer()                 # within 3 s: "thinking..."
        result = await slow_work()
        await interaction.edit_response(content=result)   # within 15 min

The REST client notes an interaction when it is asked about it first; ``tether.Client``
notes every INTERACTION_CREATE as it is delivered, which makes the lateness check exact.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from tether.errors import ConfigError, InteractionAlreadyResponded, InteractionTimedOut
from tether.rest.builders import MISSING, AllowedMentions, Missing, message_body
from tether.rest.types import InteractionCallback, Message, User

if TYPE_CHECKING:
    from tether.rest.client import RestClient

__all__ = [
    "RESPONSE_WINDOW",
    "TOKEN_LIFETIME",
    "CallbackType",
    "Interaction",
    "InteractionBook",
    "interaction_data",
]

#: Seconds Discord allows before the first answer (spec 11.6).
RESPONSE_WINDOW: Final = 3.0
#: Seconds an interaction token stays valid for edits and follow-ups.
TOKEN_LIFETIME: Final = 900.0


class CallbackType(enum.IntEnum):
    """Interaction callback types (spec 11.6)."""

    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class _Entry:
    __slots__ = ("answered", "received_at")

    def __init__(self, received_at: float | None) -> None:
        self.received_at = received_at
        self.answered = False


class InteractionBook:
    """Arrival times and answered flags of recent interactions (bounded, pure).

    Args:
        window: seconds allowed before the first answer.
        capacity: interactions remembered (the oldest are forgotten first).
    """

    def __init__(self, *, window: float = RESPONSE_WINDOW, capacity: int = 4096) -> None:
        self.window = window
        self.capacity = capacity
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    def note(self, interaction_id: int, now: float | None) -> None:
        """Record that ``interaction_id`` arrived at ``now`` (a later note changes nothing)."""
        entry = self._entries.get(interaction_id)
        if entry is None:
            self._entries[interaction_id] = _Entry(now)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        elif entry.received_at is None:
            entry.received_at = now

    def received_at(self, interaction_id: int) -> float | None:
        """When the interaction arrived (None: not noted with a time)."""
        entry = self._entries.get(interaction_id)
        return None if entry is None else entry.received_at

    def answered(self, interaction_id: int) -> bool:
        """Whether an initial answer was accepted."""
        entry = self._entries.get(interaction_id)
        return entry is not None and entry.answered

    def check_initial(self, interaction_id: int, now: float, *, route: str = "") -> None:
        """Raise if an initial answer now would be refused.

        Raises:
            InteractionAlreadyResponded: an initial answer was accepted before.
            InteractionTimedOut: the window has passed (``sent=False``: nothing is sent).
        """
        entry = self._entries.get(interaction_id)
        if entry is None:
            return
        if entry.answered:
            raise InteractionAlreadyResponded(
                400, 40060, "Interaction has already been acknowledged (not sent again)",
                route=route,
            )  # fmt: skip
        if entry.received_at is not None and now - entry.received_at >= self.window:
            raise InteractionTimedOut(
                message="Unknown interaction (not sent)",
                route=route,
                elapsed=now - entry.received_at,
                sent=False,
            )

    def mark_answered(self, interaction_id: int) -> None:
        """An initial answer was accepted."""
        entry = self._entries.get(interaction_id)
        if entry is None:
            entry = self._entries[interaction_id] = _Entry(None)
        entry.answered = True

    def elapsed(self, interaction_id: int, now: float) -> float | None:
        """Seconds since the interaction arrived, if known."""
        received = self.received_at(interaction_id)
        return None if received is None else now - received


def interaction_data(event: Any) -> dict[str, Any]:
    """The interaction object from a ``Dispatch`` (anything with ``.data``) or a dict.

    Raises:
        ConfigError: it is not an interaction object.
    """
    data = event if isinstance(event, Mapping) else getattr(event, "data", None)
    if not isinstance(data, Mapping) or not {"id", "token", "application_id"} <= data.keys():
        raise ConfigError("expected an INTERACTION_CREATE event or its interaction object")
    return dict(data)


class Interaction:
    """One interaction to answer; made by :meth:`RestClient.interaction`.

    Attributes:
        id: the interaction id.
        application_id: the application (webhook) id.
        type: 1 PING, 2 APPLICATION_COMMAND, 3 MESSAGE_COMPONENT, 4 AUTOCOMPLETE, 5 MODAL_SUBMIT.
        channel_id, guild_id: where it happened (None when absent).
        user: who triggered it (``member.user`` in guilds, ``user`` in DMs).
        data: the type-specific ``data`` object (``name`` of a command, ...).
        raw: the whole interaction object.
    """

    def __init__(self, rest: RestClient, data: dict[str, Any]) -> None:
        self._rest = rest
        self._token = str(data["token"])
        self.raw = data
        self.id = int(data["id"])
        self.application_id = int(data["application_id"])
        self.type = int(data.get("type", 0))
        self.channel_id = _maybe_int(data.get("channel_id"))
        self.guild_id = _maybe_int(data.get("guild_id"))
        member = data.get("member")
        user = member.get("user") if isinstance(member, dict) else data.get("user")
        self.user = User.from_json(user) if isinstance(user, dict) else None
        inner = data.get("data")
        self.data: dict[str, Any] = inner if isinstance(inner, dict) else {}

    def __repr__(self) -> str:
        return f"<Interaction id={self.id} type={self.type} token=<redacted>>"

    @property
    def name(self) -> str | None:
        """The command's name (application commands)."""
        name = self.data.get("name")
        return name if isinstance(name, str) else None

    @property
    def answered(self) -> bool:
        """Whether an initial answer was accepted."""
        return self._rest.interactions.answered(self.id)

    def time_left(self) -> float | None:
        """Seconds left for the first answer (None: arrival time unknown)."""
        elapsed = self._rest.interactions.elapsed(self.id, self._rest.now())
        return None if elapsed is None else self._rest.interactions.window - elapsed

    async def respond(
        self,
        content: str | None = None,
        *,
        embeds: Sequence[Mapping[str, Any]] | None = None,
        allowed_mentions: AllowedMentions | Mapping[str, Any] | None = None,
        components: Sequence[Mapping[str, Any]] | None = None,
        ephemeral: bool = False,
        tts: bool = False,
        with_response: bool = False,
    ) -> InteractionCallback | None:
        """Answer with a message (callback type 4), within 3 s of arrival.

        Raises:
            InteractionTimedOut: too late (detected before sending when possible).
            InteractionAlreadyResponded: answered before.
        """
        data = message_body(
            content=content,
            embeds=embeds if embeds is not None else MISSING,
            allowed_mentions=allowed_mentions if allowed_mentions is not None else MISSING,
            components=components if components is not None else MISSING,
            tts=tts if tts else MISSING,
            ephemeral=ephemeral,
        )
        return await self._rest.create_interaction_response(
            self.id, self._token, CallbackType.CHANNEL_MESSAGE_WITH_SOURCE, data,
            with_response=with_response,
        )  # fmt: skip

    async def defer(
        self, *, ephemeral: bool = False, with_response: bool = False
    ) -> InteractionCallback | None:
        """Acknowledge now and answer later with :meth:`edit_response` (callback type 5,
        or 6 for a component interaction, which keeps its message as it is).
        """
        kind = (
            CallbackType.DEFERRED_UPDATE_MESSAGE
            if self.type == 3
            else CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        )
        data = {"flags": 64} if ephemeral else None
        return await self._rest.create_interaction_response(
            self.id, self._token, kind, data, with_response=with_response
        )

    async def edit_response(
        self,
        content: str | Missing | None = MISSING,
        *,
        embeds: Sequence[Mapping[str, Any]] | Missing | None = MISSING,
        allowed_mentions: AllowedMentions | Mapping[str, Any] | Missing | None = MISSING,
        components: Sequence[Mapping[str, Any]] | Missing | None = MISSING,
    ) -> Message:
        """Edit the original answer (after :meth:`defer` or :meth:`respond`)."""
        return await self._rest.edit_original_interaction_response(
            self.application_id, self._token, content=content, embeds=embeds,
            allowed_mentions=allowed_mentions, components=components,
        )  # fmt: skip

    async def followup(
        self,
        content: str | None = None,
        *,
        embeds: Sequence[Mapping[str, Any]] | None = None,
        allowed_mentions: AllowedMentions | Mapping[str, Any] | None = None,
        components: Sequence[Mapping[str, Any]] | None = None,
        ephemeral: bool = False,
    ) -> Message:
        """Send a follow-up message (the token stays valid for 15 minutes)."""
        return await self._rest.create_followup_message(
            self.application_id, self._token, content, embeds=embeds,
            allowed_mentions=allowed_mentions, components=components, ephemeral=ephemeral,
        )  # fmt: skip

    async def original_response(self) -> Message:
        """Fetch the original answer."""
        return await self._rest.get_original_interaction_response(self.application_id, self._token)


def _maybe_int(value: Any) -> int | None:
    return None if value is None else int(value)
