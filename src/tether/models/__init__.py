"""tether.models: typed, slotted records of the Discord objects the cache keeps.

Pure: no I/O, no clock. Records decode straight from gateway JSON (see :mod:`.base`).
"""

from __future__ import annotations

from tether.models.base import Record, Snowflake, decoder
from tether.models.channel import (
    THREAD_TYPES,
    Channel,
    ForumTag,
    PermissionOverwrite,
    ThreadMember,
    ThreadMetadata,
)
from tether.models.guild import (
    GUILD_FIELDS,
    MEMBER_EXTRA_FIELDS,
    Guild,
    GuildFields,
    Member,
    MemberExtra,
    MemberTable,
    Role,
    VoiceState,
)
from tether.models.message import (
    Attachment,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    Message,
    MessageReference,
)
from tether.models.presence import Activity, ClientStatus, Presence, PresenceTable
from tether.models.user import User, UserTable

__all__ = [
    "GUILD_FIELDS",
    "MEMBER_EXTRA_FIELDS",
    "THREAD_TYPES",
    "Activity",
    "Attachment",
    "Channel",
    "ClientStatus",
    "Embed",
    "EmbedAuthor",
    "EmbedField",
    "EmbedFooter",
    "EmbedMedia",
    "ForumTag",
    "Guild",
    "GuildFields",
    "Member",
    "MemberExtra",
    "MemberTable",
    "Message",
    "MessageReference",
    "PermissionOverwrite",
    "Presence",
    "PresenceTable",
    "Record",
    "Role",
    "Snowflake",
    "ThreadMember",
    "ThreadMetadata",
    "User",
    "UserTable",
    "VoiceState",
    "decoder",
]
