"""Gateway and REST JSON built from the world (spec sections 4.2, 4.4, 10.2, 10.3, 10.8).

Every function returns fresh JSON-ready dicts (snowflakes as strings), so callers may
mutate what they get. Session-dependent shapes (GUILD_CREATE member trimming) take the
session's intents and ``large_threshold`` as arguments.
"""

from __future__ import annotations

import re
import time
from typing import Any

from tether.emulator.world import (
    CHANNEL_DM,
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_VOICE,
    Channel,
    Guild,
    LazyMembers,
    Member,
    Role,
    User,
    World,
    iso_timestamp,
)
from tether.wire.intents import Intents
from tether.wire.snowflake import snowflake_time_ms

__all__ = [
    "application_payload",
    "channel_payload",
    "guild_create_payload",
    "guild_payload",
    "member_payload",
    "message_payload",
    "notable_members",
    "role_payload",
    "unavailable_guild",
    "user_payload",
    "voice_state_payload",
]

#: Above this many members, GUILD_CREATE lists only the bot and voice members (spec 4.4).
_HUGE_GUILD = 75_000
_MENTION = re.compile(r"<@!?(\d{15,21})>")


def user_payload(user: User) -> dict[str, Any]:
    """A user object (spec 10.2)."""
    payload: dict[str, Any] = {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": user.avatar,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }
    if user.bot:
        payload["bot"] = True
    return payload


def role_payload(role: Role) -> dict[str, Any]:
    """A role object (spec 10.2)."""
    return {
        "id": str(role.id),
        "name": role.name,
        "color": role.color,
        "colors": {"primary_color": role.color, "secondary_color": None, "tertiary_color": None},
        "hoist": role.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": role.permissions,
        "managed": role.managed,
        "mentionable": role.mentionable,
        "flags": 0,
    }


def member_payload(member: Member, *, with_user: bool = True) -> dict[str, Any]:
    """A guild member object; ``with_user=False`` for the partial member in messages."""
    payload: dict[str, Any] = {
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in member.roles],
        "joined_at": iso_timestamp(member.joined_ms),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        payload["user"] = user_payload(member.user)
    return payload


def channel_payload(channel: Channel, *, with_guild_id: bool = True) -> dict[str, Any]:
    """A channel object; GUILD_CREATE lists channels ``with_guild_id=False`` (spec 10.2)."""
    payload: dict[str, Any] = {"id": str(channel.id), "type": channel.type, "flags": 0}
    last = None if channel.last_message_id is None else str(channel.last_message_id)
    if channel.type == CHANNEL_DM:
        payload.update(last_message_id=last, recipients=[])
        return payload
    if with_guild_id and channel.guild_id is not None:
        payload["guild_id"] = str(channel.guild_id)
    payload.update(
        name=channel.name,
        position=channel.position,
        permission_overwrites=[],
        parent_id=None if channel.parent_id is None else str(channel.parent_id),
        nsfw=False,
    )
    if channel.type == CHANNEL_VOICE:
        payload.update(bitrate=64000, user_limit=0, rtc_region=None, rate_limit_per_user=0)
    elif channel.type == CHANNEL_PUBLIC_THREAD:
        payload.update(
            owner_id=None if channel.owner_id is None else str(channel.owner_id),
            last_message_id=last,
            rate_limit_per_user=0,
            message_count=0,
            member_count=1,
            total_message_sent=0,
            thread_metadata={
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso_timestamp(snowflake_time_ms(channel.id)),
                "locked": False,
                "create_timestamp": iso_timestamp(snowflake_time_ms(channel.id)),
            },
        )
    elif channel.type != 4:
        payload.update(topic=channel.topic, last_message_id=last, rate_limit_per_user=0)
    return payload


def voice_state_payload(member: Member, guild_id: int | None) -> dict[str, Any]:
    """A voice state for a member in a voice channel (``guild_id`` None inside GUILD_CREATE)."""
    payload: dict[str, Any] = {
        "channel_id": None if member.voice_channel_id is None else str(member.voice_channel_id),
        "user_id": str(member.user.id),
        "session_id": f"{member.user.id:x}"[-16:],
        "deaf": False,
        "mute": False,
        "self_deaf": False,
        "self_mute": False,
        "self_video": False,
        "suppress": False,
        "request_to_speak_timestamp": None,
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
        payload["member"] = member_payload(member)
    return payload


def unavailable_guild(guild_id: int) -> dict[str, Any]:
    """``{"id", "unavailable": true}`` (spec 10.2)."""
    return {"id": str(guild_id), "unavailable": True}


def guild_payload(guild: Guild) -> dict[str, Any]:
    """The guild object without GUILD_CREATE extras (what GUILD_UPDATE carries)."""
    text = [c for c in guild.channels if c.type == 0]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "icon_hash": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role_payload(r) for r in guild.roles],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": str(text[0].id) if text else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "max_presences": None,
        "max_members": 500000,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": False,
        "safety_alerts_channel_id": None,
        "incidents_data": None,
        "nsfw": False,
    }


def _presence(member: Member) -> dict[str, Any]:
    return {
        "user": {"id": str(member.user.id)},
        "status": member.status,
        "activities": [],
        "client_status": {"desktop": member.status},
    }


def notable_members(guild: Guild) -> list[Member]:
    """Every member that could be listed: for a lazy guild, only the ones that exist as
    objects (a generated member is offline, with no role, nickname or voice channel)."""
    if isinstance(guild.members, LazyMembers):
        return guild.members.kept()
    return list(guild.members.values())


def _listed_members(guild: Guild, bot_id: int, intents: int, large_threshold: int) -> list[Member]:
    """Which members GUILD_CREATE lists for a session (spec 4.4)."""
    members = notable_members(guild)
    if not intents & Intents.GUILD_PRESENCES or guild.member_count > _HUGE_GUILD:
        return [m for m in members if m.user.id == bot_id or m.voice_channel_id is not None]
    if guild.member_count > large_threshold:
        return [
            m
            for m in members
            if m.user.id == bot_id
            or m.status != "offline"
            or m.roles
            or m.nick
            or m.voice_channel_id is not None
        ]
    return members


def guild_create_payload(
    guild: Guild, *, bot_id: int, intents: int, large_threshold: int
) -> dict[str, Any]:
    """A full GUILD_CREATE ``d`` for one session (spec 10.3, members trimmed per 4.4)."""
    listed = _listed_members(guild, bot_id, intents, large_threshold)
    payload = guild_payload(guild)
    payload.update(
        joined_at=iso_timestamp(guild.joined_ms),
        large=guild.member_count > large_threshold,
        unavailable=False,
        member_count=guild.member_count,
        voice_states=[
            voice_state_payload(m, None)
            for m in notable_members(guild)
            if m.voice_channel_id is not None
        ],
        members=[member_payload(m) for m in listed],
        channels=[channel_payload(c, with_guild_id=False) for c in guild.channels],
        threads=[channel_payload(t, with_guild_id=True) for t in guild.threads],
        presences=[_presence(m) for m in listed if m.status != "offline"],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
        embedded_activities=[],
        lazy=True,
        application_command_counts={},
    )
    return payload


def application_payload(world: World) -> dict[str, Any]:
    """The application object of GET /oauth2/applications/@me."""
    owner = next(iter(world.users.values()), world.bot)
    return {
        "id": str(world.application_id),
        "name": world.bot.username,
        "icon": None,
        "description": "A bot living in the tether emulator",
        "summary": "",
        "type": None,
        "hook": True,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "00" * 32,
        "flags": 0,
        "owner": user_payload(owner),
        "team": None,
        "bot": user_payload(world.bot),
        "rpc_origins": [],
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": len(world.guilds),
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "guild_id": None,
        "cover_image": None,
        "custom_install_url": None,
        "install_params": None,
        "terms_of_service_url": None,
        "privacy_policy_url": None,
        "role_connections_verification_url": None,
        "integration_types_config": {"0": {}},
    }


def message_payload(
    world: World,
    channel: Channel,
    content: str,
    *,
    author: User,
    nonce: int | str | None = None,
    tts: bool = False,
    embeds: list[Any] | None = None,
    components: list[Any] | None = None,
) -> dict[str, Any]:
    """A new message (with a new id) as MESSAGE_CREATE carries it (spec 10.8).

    Mentions of the form ``<@id>`` in ``content`` fill ``mentions``. Guild messages get
    ``guild_id`` and a partial ``member`` (without ``user``).
    """
    message_id = world.new_id()
    channel.last_message_id = message_id
    mentioned: list[dict[str, Any]] = []
    for match in _MENTION.finditer(content):
        user = world.user(match.group(1))
        if user is not None and all(m["id"] != str(user.id) for m in mentioned):
            entry = user_payload(user)
            if channel.guild_id is not None:
                member = world.member(channel.guild_id, user.id)
                if member is not None:
                    entry["member"] = member_payload(member, with_user=False)
            mentioned.append(entry)
    payload: dict[str, Any] = {
        "type": 0,
        "tts": tts,
        "timestamp": iso_timestamp(int(time.time() * 1000)),
        "pinned": False,
        "mentions": mentioned,
        "mention_roles": [],
        "mention_everyone": "@everyone" in content,
        "id": str(message_id),
        "flags": 0,
        "embeds": list(embeds or []),
        "edited_timestamp": None,
        "content": content,
        "components": list(components or []),
        "channel_id": str(channel.id),
        "author": user_payload(author),
        "attachments": [],
        "channel_type": channel.type,
    }
    if nonce is not None:
        payload["nonce"] = nonce
    if channel.guild_id is not None:
        payload["guild_id"] = str(channel.guild_id)
        member = world.member(channel.guild_id, author.id)
        if member is not None:
            payload["member"] = member_payload(member, with_user=False)
    return payload
