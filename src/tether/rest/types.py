"""Typed results of the REST client: small frozen records parsed from Discord's JSON.

Each record keeps the fields a bot commonly reads, snowflakes as ``int``, and the whole
JSON object as ``raw`` (excluded from comparisons) for everything else. Parsing is lenient
about optional fields (Discord adds fields often) and strict about ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether.errors import HTTPError

__all__ = [
    "Channel",
    "GatewayBot",
    "Guild",
    "InteractionCallback",
    "Member",
    "Message",
    "SessionStartLimit",
    "User",
]


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise HTTPError(200, 0, f"expected a JSON object for {what}, got {type(data).__name__}")
    return data


def _snowflake(value: Any) -> int:
    return int(value)


def _optional_snowflake(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A user (spec 10.2)."""

    id: int
    username: str
    global_name: str | None = None
    discriminator: str = "0"
    avatar: str | None = None
    bot: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> User:
        """Parse a user object."""
        d = _object(data, "a user")
        return cls(
            id=_snowflake(d["id"]),
            username=str(d.get("username", "")),
            global_name=d.get("global_name"),
            discriminator=str(d.get("discriminator", "0")),
            avatar=d.get("avatar"),
            bot=bool(d.get("bot", False)),
            raw=d,
        )

    @property
    def mention(self) -> str:
        """``<@id>``."""
        return f"<@{self.id}>"


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A guild member (``user`` is absent in some partial members)."""

    user: User | None
    nick: str | None = None
    roles: tuple[int, ...] = ()
    joined_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Member:
        """Parse a guild member object."""
        d = _object(data, "a member")
        return cls(
            user=User.from_json(d["user"]) if isinstance(d.get("user"), dict) else None,
            nick=d.get("nick"),
            roles=tuple(int(r) for r in d.get("roles", ())),
            joined_at=d.get("joined_at"),
            raw=d,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A channel (guild channel, thread or DM)."""

    id: int
    type: int
    name: str | None = None
    guild_id: int | None = None
    parent_id: int | None = None
    topic: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Channel:
        """Parse a channel object."""
        d = _object(data, "a channel")
        return cls(
            id=_snowflake(d["id"]),
            type=int(d.get("type", 0)),
            name=d.get("name"),
            guild_id=_optional_snowflake(d.get("guild_id")),
            parent_id=_optional_snowflake(d.get("parent_id")),
            topic=d.get("topic"),
            raw=d,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Guild:
    """A guild (without the GUILD_CREATE extras)."""

    id: int
    name: str
    owner_id: int | None = None
    roles: tuple[int, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Guild:
        """Parse a guild object."""
        d = _object(data, "a guild")
        return cls(
            id=_snowflake(d["id"]),
            name=str(d.get("name", "")),
            owner_id=_optional_snowflake(d.get("owner_id")),
            roles=tuple(int(r["id"]) for r in d.get("roles", ()) if isinstance(r, dict)),
            raw=d,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A message (spec 10.8)."""

    id: int
    channel_id: int
    author: User
    content: str = ""
    guild_id: int | None = None
    embeds: tuple[dict[str, Any], ...] = ()
    timestamp: str | None = None
    edited_timestamp: str | None = None
    type: int = 0
    flags: int = 0
    referenced_message_id: int | None = None
    webhook_id: int | None = None
    nonce: int | str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Message:
        """Parse a message object."""
        d = _object(data, "a message")
        reference = d.get("message_reference")
        ref_id = reference.get("message_id") if isinstance(reference, dict) else None
        return cls(
            id=_snowflake(d["id"]),
            channel_id=_snowflake(d["channel_id"]),
            author=User.from_json(d["author"]),
            content=str(d.get("content") or ""),
            guild_id=_optional_snowflake(d.get("guild_id")),
            embeds=tuple(e for e in d.get("embeds", ()) if isinstance(e, dict)),
            timestamp=d.get("timestamp"),
            edited_timestamp=d.get("edited_timestamp"),
            type=int(d.get("type", 0)),
            flags=int(d.get("flags", 0) or 0),
            referenced_message_id=_optional_snowflake(ref_id),
            webhook_id=_optional_snowflake(d.get("webhook_id")),
            nonce=d.get("nonce"),
            raw=d,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStartLimit:
    """``session_start_limit`` of ``GET /gateway/bot`` (spec 1.1)."""

    total: int
    remaining: int
    reset_after_ms: int
    max_concurrency: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayBot:
    """``GET /gateway/bot``: the URL, recommended shards and the session-start budget."""

    url: str
    shards: int
    session_start_limit: SessionStartLimit
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> GatewayBot:
        """Parse the answer of ``GET /gateway/bot``."""
        d = _object(data, "GET /gateway/bot")
        limit = _object(d.get("session_start_limit"), "session_start_limit")
        return cls(
            url=str(d["url"]),
            shards=int(d.get("shards", 1)),
            session_start_limit=SessionStartLimit(
                total=int(limit.get("total", 0)),
                remaining=int(limit.get("remaining", 0)),
                reset_after_ms=int(limit.get("reset_after", 0)),
                max_concurrency=int(limit.get("max_concurrency", 1)),
            ),
            raw=d,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionCallback:
    """The answer to a callback sent with ``with_response=true``.

    Attributes:
        interaction_id: the interaction answered.
        type: the callback type that was applied.
        response_message_id: the id of the response message, if one was created.
        message: the response message, when the callback created one.
    """

    interaction_id: int
    type: int
    response_message_id: int | None = None
    message: Message | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> InteractionCallback:
        """Parse an interaction callback response."""
        d = _object(data, "an interaction callback response")
        interaction = _object(d.get("interaction"), "interaction")
        resource = d.get("resource") if isinstance(d.get("resource"), dict) else {}
        message = resource.get("message") if isinstance(resource, dict) else None
        return cls(
            interaction_id=_snowflake(interaction["id"]),
            type=int(resource.get("type", interaction.get("type", 0)) if resource else 0),
            response_message_id=_optional_snowflake(interaction.get("response_message_id")),
            message=Message.from_json(message) if isinstance(message, dict) else None,
            raw=d,
        )
