"""Users (spec 10.2): the :class:`User` record, and :class:`UserTable`, the compact store the
cache keeps one entry per user in (shared by every guild the user is a member of).

:class:`UserTable` is a ``Mapping[user id, User]``. It does not keep a :class:`User` object
per user: each user is one packed ``bytes`` (its fields, UTF-8, joined by a separator) in
a list parallel to a sorted ``array('Q')`` of ids, plus a small unsorted batch of recent
additions that is merged in from time to time. That is about 70 bytes for a user with short
names (16 + the bytes object), instead of about 260 for a record, its strings and a dict
entry.

Reading ``table[user_id]`` returns the *live* record of that user: while any :class:`User`
object of that id handed out (or added) is still referenced somewhere, every read returns
that same object (kept in a weak-value dict), and updates through the table (USER_UPDATE,
PRESENCE_UPDATE's partial user, a member's user) change it in place. Once nothing refers to
it, the next read builds a new, equal record. So ``a.user is b.user`` holds for members read
while either record is alive, and equality always holds.
"""

from __future__ import annotations

import weakref
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from tether.models.base import Record, Snowflake
from tether.models.columns import find_row

__all__ = ["USER_FIELDS", "User", "UserFields", "UserTable"]


class User(Record, kw_only=True, gc=True, weakref=True):
    """A Discord user.

    The cache keeps every user once (see :class:`UserTable`) and points members, message
    authors and presences at the same live record; a change (USER_UPDATE, a member's or a
    presence's user) updates it in place. Six fields: ``system``, ``public_flags``,
    banners and decorations are not kept. (``gc=True``: weak references need it.)
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


class UserFields(Protocol):
    """What the table reads off a user: :class:`User`, or a decode type with its fields."""

    @property
    def id(self) -> Snowflake: ...
    @property
    def username(self) -> str: ...
    @property
    def discriminator(self) -> str: ...
    @property
    def global_name(self) -> str | None: ...
    @property
    def avatar(self) -> str | None: ...
    @property
    def bot(self) -> bool: ...


#: The fields of :class:`User`, in order.
USER_FIELDS: tuple[str, ...] = User.__struct_fields__

_SEP = "\x1f"
_NONE = "\x00"
_MERGE_AT = 512


def _merge_limit(kept: int) -> int:
    """How many recent additions wait before a merge into ``kept`` sorted rows: at least
    :data:`_MERGE_AT`, and a 32nd of the rows, so that merging (a copy of every row) costs
    O(1) per user however the ids arrive (users come in no id order on real Discord)."""
    return max(_MERGE_AT, kept >> 5)


def pack_user(user: UserFields) -> bytes | User:
    """A user's fields as one UTF-8 ``bytes`` (``id`` apart), or a copy of the record when a field
    holds the separator. Inverse: :func:`unpack_user`."""
    name, glob = user.username, user.global_name
    if (
        user.discriminator == "0"
        and user.avatar is None
        and not user.bot
        and _SEP not in name
        and (glob is None or (_SEP not in glob and glob != _NONE))
    ):
        return f"{name}{_SEP}{_NONE if glob is None else glob}".encode()  # the usual user
    disc, avatar = user.discriminator, user.avatar
    fields = (name, disc, glob or "", avatar or "")
    if any(_SEP in field for field in fields) or _NONE in {glob, avatar, disc}:
        return User(
            id=user.id, username=name, discriminator=disc, global_name=glob, avatar=avatar,
            bot=user.bot,
        )  # fmt: skip
    return _SEP.join(
        (
            name,
            _NONE if glob is None else glob,
            disc,
            _NONE if avatar is None else avatar,
            "1" if user.bot else "",
        )
    ).encode()


def unpack_user(user_id: Snowflake, packed: bytes | User) -> User:
    """A new :class:`User` from :func:`pack_user`'s form."""
    if not isinstance(packed, bytes):
        return User(
            id=user_id, username=packed.username, discriminator=packed.discriminator,
            global_name=packed.global_name, avatar=packed.avatar, bot=packed.bot,
        )  # fmt: skip
    parts = packed.decode().split(_SEP)
    glob = parts[1]
    if len(parts) == 2:
        return User(id=user_id, username=parts[0], global_name=None if glob == _NONE else glob)
    avatar = parts[3]
    return User(
        id=user_id,
        username=parts[0],
        global_name=None if glob == _NONE else glob,
        discriminator=parts[2],
        avatar=None if avatar == _NONE else avatar,
        bot=parts[4] == "1",
    )


class UserTable(Mapping[Snowflake, User]):
    """Users by id, packed (see the module docstring).

    Writes: :meth:`put` (add or update, returning the live record), :meth:`update` (only if
    kept), :meth:`set_fields`, :meth:`remove`. The cache counts references itself.
    """

    __slots__ = ("__weakref__", "_ids", "_live", "_recent", "_rows")

    def __init__(self) -> None:
        self._ids = array("Q")
        self._rows: list[bytes | User] = []
        self._recent: dict[Snowflake, bytes | User] = {}
        self._live: weakref.WeakValueDictionary[Snowflake, User] = weakref.WeakValueDictionary()

    # ------------------------------------------------------------------ Mapping
    def __len__(self) -> int:
        return len(self._ids) + len(self._recent)

    def __iter__(self) -> Iterator[Snowflake]:
        return iter([*self._ids, *self._recent])

    def __contains__(self, user_id: object) -> bool:
        return self._packed(user_id) is not None

    def __getitem__(self, user_id: Snowflake) -> User:
        user = self.find(user_id)
        if user is None:
            raise KeyError(user_id)
        return user

    def get(self, user_id: Snowflake, default: Any = None) -> Any:
        """The live record of that user (see the module docstring), else ``default``."""
        user = self.find(user_id)
        return default if user is None else user

    def find(self, user_id: Snowflake) -> User | None:
        """The live record of that user (see the module docstring), else None."""
        live = self._live.get(user_id)
        if live is not None:
            return live
        packed = self._packed(user_id)
        if packed is None:
            return None
        user = unpack_user(user_id, packed)
        self._live[user_id] = user
        return user

    def __repr__(self) -> str:
        return f"<UserTable users={len(self)}>"

    def _packed(self, user_id: object) -> bytes | User | None:
        found = self._recent.get(user_id) if isinstance(user_id, int) else None
        if found is not None:
            return found
        row = find_row(self._ids, user_id)
        return self._rows[row] if row >= 0 else None

    def _store(self, user_id: Snowflake, packed: bytes | User) -> None:
        """Set the packed form of a kept user (or add it to the recent batch)."""
        if user_id in self._recent:
            self._recent[user_id] = packed
            return
        row = find_row(self._ids, user_id)
        if row >= 0:
            self._rows[row] = packed
            return
        self._recent[user_id] = packed
        if len(self._recent) >= _merge_limit(len(self._ids)):
            self._merge()

    def _merge(self) -> None:
        """Move the recent batch into the sorted columns."""
        recent = self._recent
        self._recent = {}
        order = sorted(recent)  # the ids alone: sorting ints beats sorting (id, row) pairs
        ids, rows = self._ids, self._rows
        if not ids or order[0] > ids[-1]:
            ids.extend(order)
            rows.extend(map(recent.__getitem__, order))
            return
        new_ids = array("Q")
        new_rows: list[bytes | User] = []
        start = 0
        for uid in order:
            at = bisect_left(ids, uid, start)
            new_ids += ids[start:at]
            new_rows += rows[start:at]
            new_ids.append(uid)
            new_rows.append(recent[uid])
            start = at
        new_ids += ids[start:]
        new_rows += rows[start:]
        self._ids, self._rows = new_ids, new_rows

    # ------------------------------------------------------------------ writing
    def put(self, user: User) -> User:
        """Keep ``user`` (adding it, or updating the kept one); returns the live record,
        which is ``user`` itself unless a live record of that id already exists."""
        return self.take(user)[0]

    def take(self, user: User) -> tuple[User, bool]:
        """:meth:`put`, and whether the user was kept already (one lookup)."""
        uid = user.id
        current = self._packed(uid)
        live = self._live.get(uid)
        if live is not None and current is not None and live == user:
            return live, True  # the usual case for a known author: nothing to pack
        packed = pack_user(user)
        if current is None or current != packed:
            self._store(uid, packed)
        if live is None:
            self._live[uid] = user
            return user, current is not None
        if live is not user:
            _copy_fields(live, user)
        return live, current is not None

    def same(self, user: User) -> bool:
        """Whether ``user`` is kept with exactly these fields."""
        current = self._packed(user.id)
        if current is None:
            return False
        live = self._live.get(user.id)
        return live == user if live is not None else current == pack_user(user)

    def fill_many(self, users: list[Any]) -> list[Snowflake]:
        """Keep each user (adding it, or updating the kept one) without handing out live
        records: the guild stream's hot path, one lookup each. ``users`` are
        :class:`UserFields` (the objects themselves are not kept). Returns the ids of the
        users that were kept already."""
        kept: list[Snowflake] = []
        recent = self._recent
        ids, rows = self._ids, self._rows
        last = ids[-1] if ids else -1
        limit = _merge_limit(len(ids))
        for user in users:
            uid = user.id
            name, glob = user.username, user.global_name
            if (  # pack_user's usual case, inlined
                user.discriminator == "0"
                and user.avatar is None
                and not user.bot
                and _SEP not in name
                and (glob is None or (_SEP not in glob and glob != _NONE))
            ):
                packed: bytes | User = f"{name}{_SEP}{_NONE if glob is None else glob}".encode()
            else:
                packed = pack_user(user)
            current = recent.get(uid)
            if current is not None:
                kept.append(uid)
                if current != packed:
                    recent[uid] = packed
                    self._refresh(uid, user)
                continue
            if uid <= last:  # beyond the last id it cannot be in the columns
                row = bisect_left(ids, uid)
                if ids[row] == uid:
                    kept.append(uid)
                    if rows[row] != packed:
                        rows[row] = packed
                        self._refresh(uid, user)
                    continue
            recent[uid] = packed
            if len(recent) >= limit:
                self._merge()
                recent = self._recent
                ids, rows = self._ids, self._rows
                last = ids[-1]
                limit = _merge_limit(len(ids))
        return kept

    def _refresh(self, user_id: Snowflake, source: UserFields) -> None:
        """Bring the live record of a user (if any) up to ``source``'s fields."""
        live = self._live.get(user_id)
        if live is not None and live is not source:
            _copy_fields(live, source)

    def update(self, user: User) -> None:
        """Copy every field of ``user`` onto the kept user of its id (if kept)."""
        current = self._packed(user.id)
        if current is not None:
            packed = pack_user(user)
            if packed != current:
                self._store(user.id, packed)
                live = self._live.get(user.id)
                if live is not None and live is not user:
                    _copy_fields(live, user)

    def set_fields(self, user_id: Snowflake, fields: dict[str, Any]) -> None:
        """Change some fields of a kept user (nothing if not kept)."""
        user = self.find(user_id)
        if user is None:
            return
        for name, value in fields.items():
            setattr(user, name, value)
        self._store(user_id, pack_user(user))

    def remove(self, user_id: Snowflake) -> None:
        """Forget a user (a live record stays valid for whoever holds it)."""
        self._live.pop(user_id, None)
        if self._recent.pop(user_id, None) is not None:
            return
        row = find_row(self._ids, user_id)
        if row >= 0:
            del self._ids[row]
            del self._rows[row]


def _copy_fields(target: User, source: UserFields) -> None:
    for name in USER_FIELDS:
        value = getattr(source, name)
        if getattr(target, name) != value:
            setattr(target, name, value)
