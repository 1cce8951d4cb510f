"""Users (spec 10.2): one record per user, shared by every guild the user is a member of."""

from __future__ import annotations

from tether.models.base import Record, Snowflake

__all__ = ["User"]


class User(Record, kw_only=True):
    """A Discord user.

    The cache keeps one :class:`User` per id and points every member, message author and
    presence at it; a change (USER_UPDATE, a member's or a presence's user) updates it in
    place. Six fields, so that a user costs 64 bytes: ``system``, ``public_flags``,
    banners and decorations are not kept.
    """

    id: Snowflake = 0
    username: str = ""
    discriminator: str = "0"
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False

    @property
    def display_name(self) -> str:
        """``global_name`` when set, else ``username``."""
        return self.global_name or self.username
