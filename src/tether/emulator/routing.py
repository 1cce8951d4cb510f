"""Which session sees which dispatch, and in what form (spec sections 8 and 9).

Pure functions. The emulator's own reading of the intent table: an event tied to an
intent reaches a session only when its IDENTIFY asked for that intent; events tied to none
(READY, RESUMED, USER_UPDATE, INTERACTION_CREATE, unknown names, ...) always do. Guild
events go to the shard ``(guild_id >> 22) % num_shards``; events without a guild go to
shard 0 (and to unsharded sessions) only.
"""

from __future__ import annotations

from typing import Any

from tether.wire.intents import Intents

__all__ = [
    "apply_content_rules",
    "event_guild_id",
    "routes_to",
    "wants_event",
]

_I = Intents

#: Events that always concern a guild, and the intent they need.
_GUILD_EVENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            "GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE", "GUILD_ROLE_CREATE",
            "GUILD_ROLE_UPDATE", "GUILD_ROLE_DELETE", "CHANNEL_CREATE", "CHANNEL_UPDATE",
            "CHANNEL_DELETE", "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE",
            "THREAD_LIST_SYNC", "THREAD_MEMBER_UPDATE", "THREAD_MEMBERS_UPDATE",
            "STAGE_INSTANCE_CREATE", "STAGE_INSTANCE_UPDATE", "STAGE_INSTANCE_DELETE",
            "VOICE_CHANNEL_STATUS_UPDATE", "VOICE_CHANNEL_START_TIME_UPDATE",
        ),
        _I.GUILDS,
    ),
    **dict.fromkeys(
        ("GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"), _I.GUILD_MEMBERS
    ),
    **dict.fromkeys(
        ("GUILD_AUDIT_LOG_ENTRY_CREATE", "GUILD_BAN_ADD", "GUILD_BAN_REMOVE"),
        _I.GUILD_MODERATION,
    ),
    **dict.fromkeys(
        (
            "GUILD_EMOJIS_UPDATE", "GUILD_STICKERS_UPDATE", "GUILD_SOUNDBOARD_SOUND_CREATE",
            "GUILD_SOUNDBOARD_SOUND_UPDATE", "GUILD_SOUNDBOARD_SOUND_DELETE",
            "GUILD_SOUNDBOARD_SOUNDS_UPDATE",
        ),
        _I.GUILD_EXPRESSIONS,
    ),
    **dict.fromkeys(
        (
            "GUILD_INTEGRATIONS_UPDATE", "INTEGRATION_CREATE", "INTEGRATION_UPDATE",
            "INTEGRATION_DELETE",
        ),
        _I.GUILD_INTEGRATIONS,
    ),
    "WEBHOOKS_UPDATE": _I.GUILD_WEBHOOKS,
    **dict.fromkeys(("INVITE_CREATE", "INVITE_DELETE"), _I.GUILD_INVITES),
    **dict.fromkeys(("VOICE_CHANNEL_EFFECT_SEND", "VOICE_STATE_UPDATE"), _I.GUILD_VOICE_STATES),
    "PRESENCE_UPDATE": _I.GUILD_PRESENCES,
    **dict.fromkeys(
        (
            "GUILD_SCHEDULED_EVENT_CREATE", "GUILD_SCHEDULED_EVENT_UPDATE",
            "GUILD_SCHEDULED_EVENT_DELETE", "GUILD_SCHEDULED_EVENT_USER_ADD",
            "GUILD_SCHEDULED_EVENT_USER_REMOVE",
        ),
        _I.GUILD_SCHEDULED_EVENTS,
    ),
    **dict.fromkeys(
        (
            "AUTO_MODERATION_RULE_CREATE", "AUTO_MODERATION_RULE_UPDATE",
            "AUTO_MODERATION_RULE_DELETE",
        ),
        _I.AUTO_MODERATION_CONFIGURATION,
    ),
    "AUTO_MODERATION_ACTION_EXECUTION": _I.AUTO_MODERATION_EXECUTION,
}  # fmt: skip

#: Events that exist in guilds and in DMs: (intent in a guild, intent in a DM).
_GUILD_OR_DM_EVENTS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(
        ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"),
        (_I.GUILD_MESSAGES, _I.DIRECT_MESSAGES),
    ),
    "CHANNEL_PINS_UPDATE": (_I.GUILDS, _I.DIRECT_MESSAGES),
    **dict.fromkeys(
        (
            "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL",
            "MESSAGE_REACTION_REMOVE_EMOJI",
        ),
        (_I.GUILD_MESSAGE_REACTIONS, _I.DIRECT_MESSAGE_REACTIONS),
    ),
    "TYPING_START": (_I.GUILD_MESSAGE_TYPING, _I.DIRECT_MESSAGE_TYPING),
    **dict.fromkeys(
        ("MESSAGE_POLL_VOTE_ADD", "MESSAGE_POLL_VOTE_REMOVE"),
        (_I.GUILD_MESSAGE_POLLS, _I.DIRECT_MESSAGE_POLLS),
    ),
}  # fmt: skip

_MESSAGE_EVENTS = frozenset({"MESSAGE_CREATE", "MESSAGE_UPDATE"})


def event_guild_id(event: str, data: Any) -> int | None:
    """The guild a dispatch concerns: ``d.id`` for GUILD_CREATE/UPDATE/DELETE, else
    ``d.guild_id``; None when absent or not a snowflake."""
    if not isinstance(data, dict):
        return None
    raw = data.get("id") if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") else None
    if raw is None:
        raw = data.get("guild_id")
    try:
        return None if raw is None else int(raw)
    except (TypeError, ValueError):
        return None


def routes_to(shard: tuple[int, int] | None, guild_id: int | None) -> bool:
    """Whether a session on ``shard`` (None: unsharded) gets an event of ``guild_id``."""
    if shard is None:
        return True
    shard_id, count = shard
    if guild_id is None:
        return shard_id == 0
    return (guild_id >> 22) % count == shard_id


def _user_ids(items: Any) -> set[str]:
    ids: set[str] = set()
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                raw = item.get("user_id", item.get("id"))
                if raw is None and isinstance(item.get("user"), dict):
                    raw = item["user"].get("id")
                if raw is not None:
                    ids.add(str(raw))
            elif item is not None:
                ids.add(str(item))
    return ids


def wants_event(event: str, data: Any, guild_id: int | None, intents: int, bot_id: int) -> bool:
    """Whether a session with ``intents`` receives this dispatch (spec section 8).

    Args:
        event: the dispatch name.
        data: its ``d``.
        guild_id: the guild it concerns (None: a DM or guild-less event).
        intents: the session's IDENTIFY intents.
        bot_id: the bot user id (its own GUILD_MEMBER_UPDATE needs no intent).
    """
    if event in _GUILD_OR_DM_EVENTS:
        in_guild, in_dm = _GUILD_OR_DM_EVENTS[event]
        return bool(intents & (in_guild if guild_id is not None else in_dm))
    needed = _GUILD_EVENTS.get(event)
    if needed is None:
        return True
    if event == "GUILD_MEMBER_UPDATE" and isinstance(data, dict):
        user = data.get("user")
        if isinstance(user, dict) and str(user.get("id")) == str(bot_id):
            return True
    if event == "THREAD_MEMBERS_UPDATE":
        if not intents & _I.GUILDS:
            return False
        if intents & _I.GUILD_MEMBERS or not isinstance(data, dict):
            return True
        touched = _user_ids(data.get("added_members")) | _user_ids(data.get("removed_member_ids"))
        return str(bot_id) in touched
    return bool(intents & needed)


def apply_content_rules(event: str, data: Any, intents: int, bot_id: int) -> Any:
    """``data`` as a session without MESSAGE_CONTENT sees it (spec section 8).

    Message content fields are blanked (``poll`` removed) unless the session has the
    intent, the message is the bot's own, is a DM, or mentions the bot. Returns ``data``
    itself when nothing changes, else a shallow copy.
    """
    if intents & _I.MESSAGE_CONTENT or not isinstance(data, dict):
        return data
    if event == "AUTO_MODERATION_ACTION_EXECUTION":
        return {**data, **{k: "" for k in ("content", "matched_content") if k in data}}
    if event not in _MESSAGE_EVENTS or data.get("guild_id") is None:
        return data
    author = data.get("author")
    if isinstance(author, dict) and str(author.get("id")) == str(bot_id):
        return data
    if str(bot_id) in _user_ids(data.get("mentions")):
        return data
    blanked = dict(data)
    for key, empty in (("content", ""), ("embeds", []), ("attachments", []), ("components", [])):
        if key in blanked:
            blanked[key] = empty
    blanked.pop("poll", None)
    return blanked
