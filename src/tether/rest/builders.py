"""Request bodies: message payloads and allowed mentions, validated before anything is sent.

A body that Discord would refuse (empty message, content over 2000 characters, more than
10 embeds) raises :class:`~tether.errors.ConfigError` here, so it never costs a request.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tether.errors import ConfigError

__all__ = ["MISSING", "AllowedMentions", "Missing", "message_body", "reference_body"]

MAX_CONTENT: Final = 2000
MAX_EMBEDS: Final = 10
MAX_EMBED_CHARS: Final = 6000
EPHEMERAL: Final = 1 << 6
_EMBED_TEXT_KEYS: Final = ("title", "description")


class Missing(enum.Enum):
    """The type of :data:`MISSING`: "leave this field as it is" in edits."""

    MISSING = enum.auto()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing.MISSING


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowedMentions:
    """Which mentions in a message may ping (``allowed_mentions``, spec 11.6).

    ``AllowedMentions()`` pings nobody; ``AllowedMentions(parse=("users",))`` pings the
    mentioned users; ``replied_user=True`` pings the author of the message replied to.
    """

    parse: tuple[str, ...] = ()
    users: tuple[int, ...] = ()
    roles: tuple[int, ...] = ()
    replied_user: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON object Discord expects.

        Raises:
            ConfigError: ``parse`` names an unknown kind, or repeats ``users``/``roles``
                given as explicit lists (Discord refuses that combination).
        """
        unknown = set(self.parse) - {"users", "roles", "everyone"}
        if unknown:
            raise ConfigError(f"allowed_mentions.parse: unknown kinds {sorted(unknown)}")
        if ("users" in self.parse and self.users) or ("roles" in self.parse and self.roles):
            raise ConfigError("allowed_mentions: list ids or parse that kind, not both")
        body: dict[str, Any] = {"parse": list(self.parse)}
        if self.users:
            body["users"] = [str(u) for u in self.users]
        if self.roles:
            body["roles"] = [str(r) for r in self.roles]
        if self.replied_user:
            body["replied_user"] = True
        return body


def _embed_chars(embed: Mapping[str, Any]) -> int:
    total = sum(len(str(embed.get(k) or "")) for k in _EMBED_TEXT_KEYS)
    for item in embed.get("fields") or ():
        if isinstance(item, Mapping):
            total += len(str(item.get("name") or "")) + len(str(item.get("value") or ""))
    for key in ("footer", "author"):
        part = embed.get(key)
        if isinstance(part, Mapping):
            total += len(str(part.get("text") or part.get("name") or ""))
    return total


def _embeds(embeds: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if len(embeds) > MAX_EMBEDS:
        raise ConfigError(f"at most {MAX_EMBEDS} embeds per message, got {len(embeds)}")
    if sum(_embed_chars(e) for e in embeds) > MAX_EMBED_CHARS:
        raise ConfigError(f"embeds hold more than {MAX_EMBED_CHARS} characters in total")
    return [dict(e) for e in embeds]


def _mentions(value: AllowedMentions | Mapping[str, Any]) -> dict[str, Any]:
    return value.to_json() if isinstance(value, AllowedMentions) else dict(value)


def reference_body(reference: Any) -> dict[str, Any]:
    """``message_reference`` from a message id, a message (``id``, ``channel_id``) or a dict."""
    if isinstance(reference, Mapping):
        return dict(reference)
    if isinstance(reference, int):
        return {"message_id": str(reference)}
    message_id = getattr(reference, "id", None)
    if not isinstance(message_id, int):
        raise ConfigError(f"message_reference must be an id, a message or a dict: {reference!r}")
    body = {"message_id": str(message_id)}
    for name in ("channel_id", "guild_id"):
        value = getattr(reference, name, None)
        if isinstance(value, int):
            body[name] = str(value)
    return body


def message_body(
    *,
    content: str | Missing | None = MISSING,
    embeds: Sequence[Mapping[str, Any]] | Missing | None = MISSING,
    allowed_mentions: AllowedMentions | Mapping[str, Any] | Missing | None = MISSING,
    components: Sequence[Mapping[str, Any]] | Missing | None = MISSING,
    message_reference: Any = MISSING,
    tts: bool | Missing = MISSING,
    nonce: int | str | Missing | None = MISSING,
    enforce_nonce: bool | Missing = MISSING,
    flags: int | Missing | None = MISSING,
    ephemeral: bool = False,
    require_content: bool = True,
) -> dict[str, Any]:
    """A message body with only the fields given (``MISSING`` leaves a field out).

    Args:
        require_content: refuse a body without content, embeds or components (creates).

    Raises:
        ConfigError: the body would be refused by Discord.
    """
    body: dict[str, Any] = {}
    if not isinstance(content, Missing):
        if content is not None and len(content) > MAX_CONTENT:
            raise ConfigError(f"content is {len(content)} characters; the limit is {MAX_CONTENT}")
        body["content"] = content
    if not isinstance(embeds, Missing):
        body["embeds"] = None if embeds is None else _embeds(embeds)
    if not isinstance(allowed_mentions, Missing):
        body["allowed_mentions"] = None if allowed_mentions is None else _mentions(allowed_mentions)
    if not isinstance(components, Missing):
        body["components"] = None if components is None else [dict(c) for c in components]
    if not isinstance(message_reference, Missing) and message_reference is not None:
        body["message_reference"] = reference_body(message_reference)
    if not isinstance(tts, Missing):
        body["tts"] = tts
    if not isinstance(nonce, Missing) and nonce is not None:
        if len(str(nonce)) > 25:
            raise ConfigError("nonce is limited to 25 characters")
        body["nonce"] = nonce
    if not isinstance(enforce_nonce, Missing):
        body["enforce_nonce"] = enforce_nonce
    flag_value = 0 if isinstance(flags, Missing) or flags is None else flags
    if ephemeral:
        flag_value |= EPHEMERAL
    if flag_value or not isinstance(flags, Missing):
        body["flags"] = flag_value
    if require_content and not any(body.get(k) for k in ("content", "embeds", "components")):
        raise ConfigError("a message needs content, embeds or components (Discord: 50006)")
    return body
