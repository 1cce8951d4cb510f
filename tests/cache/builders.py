"""Small builders of gateway JSON for the pure cache tests (ids as strings, like Discord)."""

from __future__ import annotations

from typing import Any

GUILD = 41771983423143937
BOT = 80351110224678912
JOINED = "2021-06-01T10:00:00.000000+00:00"


def user(uid: int, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": name or f"user{uid}",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        **extra,
    }


def member(
    uid: int, *, roles: tuple[int, ...] = (), nick: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "user": user(uid),
        "nick": nick,
        "roles": [str(r) for r in roles],
        "joined_at": JOINED,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        **extra,
    }


def role(rid: int, name: str = "role", **extra: Any) -> dict[str, Any]:
    return {"id": str(rid), "name": name, "color": 0, "position": 1, "permissions": "8", **extra}


def channel(cid: int, name: str = "general", *, type: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": str(cid), "type": type, "name": name, "position": 0, **extra}


def thread(tid: int, parent: int, name: str = "thread", **extra: Any) -> dict[str, Any]:
    return {
        "id": str(tid),
        "type": 11,
        "name": name,
        "parent_id": str(parent),
        "guild_id": str(extra.pop("guild_id", GUILD)),
        "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "locked": False},
        **extra,
    }


def guild_create(
    gid: int = GUILD,
    *,
    name: str = "Guild",
    members: list[dict[str, Any]] | None = None,
    channels: list[dict[str, Any]] | None = None,
    threads: list[dict[str, Any]] | None = None,
    roles: list[dict[str, Any]] | None = None,
    presences: list[dict[str, Any]] | None = None,
    voice_states: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    members = members if members is not None else [member(BOT)]
    return {
        "id": str(gid),
        "name": name,
        "owner_id": str(BOT),
        "roles": roles if roles is not None else [role(gid, "@everyone")],
        "channels": channels if channels is not None else [channel(gid + 1)],
        "threads": threads or [],
        "members": members,
        "member_count": len(members),
        "presences": presences or [],
        "voice_states": voice_states or [],
        "large": False,
        "joined_at": JOINED,
        **extra,
    }


def ready(*guild_ids: int, shard: list[int] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "v": 10,
        "user": user(BOT, "bot", bot=True),
        "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
        "session_id": "s",
        "resume_gateway_url": "wss://x",
    }
    if shard is not None:
        payload["shard"] = shard
    return payload


def message(
    mid: int, channel_id: int, author: int, content: str = "hi", **extra: Any
) -> dict[str, Any]:
    return {
        "id": str(mid),
        "channel_id": str(channel_id),
        "guild_id": str(GUILD),
        "author": user(author),
        "content": content,
        "timestamp": JOINED,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        **extra,
    }
