"""Guild members (spec 10.6): the :class:`Member` record, and :class:`MemberTable`, the
compact per-guild store the cache keeps them in.

A guild's members are not kept as one object each. :class:`MemberTable` holds them in
columns: sorted user ids (``array('Q')``, found with :func:`bisect.bisect_left`),
``joined_at`` as a float POSIX timestamp (``array('d')``, NaN for None) and an index into
the guild's shared role tuples (``array('B')``; ``'I'`` past 256 distinct tuples).
Nicknames are a list parallel to the ids, made once a member has one; the rarely set
fields (:class:`MemberExtra`) are a dict by user id, made once a member has one. Users live
in the :class:`~tether.models.UserTable` the table is given (the cache's, shared by every
guild). That is under 20 bytes per member instead of several hundred for an object graph.

Reading ``table[user_id]`` (or iterating, ``get``, ``values()``...) materializes a
short-lived :class:`Member` from the columns. Consequences callers can rely on:

- two reads of the same member give *equal* records, not the same object (``a == b``,
  not ``a is b``); ``member.user`` is the live :class:`User` of that id (see
  :class:`~tether.models.UserTable`: the same object while it is referenced), and members
  with the same roles share one ``roles`` tuple;
- a materialized member is a snapshot: later changes to the table (dispatches) do not
  show in it, except through its ``user`` (updated in place by USER_UPDATE and the like);
- :meth:`Member.set` on a materialized member writes the change through to its table;
  plain attribute assignment changes only that snapshot;
- ``joined_at`` comes back as an aware UTC datetime equal to the one decoded (an offset
  other than UTC is returned as the same instant in UTC; a naive one, which Discord never
  sends, is read in the machine's local time zone, as :meth:`datetime.datetime.timestamp`
  does).
"""

from __future__ import annotations

import datetime
import math
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tether.models.base import Record, Snowflake
from tether.models.columns import find_row, sort_order
from tether.models.user import User, UserTable

__all__ = ["MEMBER_EXTRA_FIELDS", "Member", "MemberExtra", "MemberTable"]

_UTC = datetime.UTC
_NAN = math.nan
_FROM_TS = datetime.datetime.fromtimestamp
_isnan = math.isnan
_TIMESTAMP = datetime.datetime.timestamp


class MemberExtra(Record, kw_only=True):
    """The member fields that are usually at their defaults (kept apart to save memory)."""

    avatar: str | None = None
    premium_since: datetime.datetime | None = None
    communication_disabled_until: datetime.datetime | None = None
    flags: int = 0
    pending: bool = False
    deaf: bool = False
    mute: bool = False


#: The fields of :class:`MemberExtra` (readable on :class:`Member` too).
MEMBER_EXTRA_FIELDS: tuple[str, ...] = MemberExtra.__struct_fields__
_NO_EXTRA = MemberExtra()
_FIELDS = ("user", "roles", "joined_at", "nick", "extra")


class Member:
    """A user's membership of one guild; ``user`` is the shared :class:`User` record.

    ``roles`` holds role ids (the @everyone role is implied, as on Discord). The rarely
    set fields (``avatar``, ``premium_since``, ``communication_disabled_until``,
    ``flags``, ``pending``, ``deaf``, ``mute``) live in ``extra``, which is None while
    they all have their defaults; read them as attributes of the member, and change them
    with :meth:`set`. Members compare by value (their five fields).

    A member read from the cache is materialized from its guild's :class:`MemberTable`
    (see the module docstring); :meth:`set` on it changes the cache too.
    """

    __slots__ = ("_table", "extra", "joined_at", "nick", "roles", "user")

    def __init__(
        self,
        *,
        user: User | None = None,
        roles: tuple[Snowflake, ...] = (),
        joined_at: datetime.datetime | None = None,
        nick: str | None = None,
        extra: MemberExtra | None = None,
    ) -> None:
        self.user: User = User() if user is None else user
        self.roles: tuple[Snowflake, ...] = roles
        self.joined_at: datetime.datetime | None = joined_at
        self.nick: str | None = nick
        self.extra: MemberExtra | None = extra
        self._table: MemberTable | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Member):
            return NotImplemented
        return (
            self.user == other.user
            and self.roles == other.roles
            and self.joined_at == other.joined_at
            and self.nick == other.nick
            and self.extra == other.extra
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        shown = [f"user={self.user!r}"]
        for name in _FIELDS[1:]:
            value = getattr(self, name)
            if value not in ((), None):
                shown.append(f"{name}={value!r}")
        return f"Member({', '.join(shown)})"

    @property
    def id(self) -> Snowflake:
        """The user id."""
        return self.user.id

    @property
    def display_name(self) -> str:
        """The nickname, else the user's display name."""
        return self.nick or self.user.display_name

    @property
    def avatar(self) -> str | None:
        """The guild avatar hash."""
        return (self.extra or _NO_EXTRA).avatar

    @property
    def premium_since(self) -> datetime.datetime | None:
        """When the member started boosting."""
        return (self.extra or _NO_EXTRA).premium_since

    @property
    def communication_disabled_until(self) -> datetime.datetime | None:
        """The end of a timeout."""
        return (self.extra or _NO_EXTRA).communication_disabled_until

    @property
    def flags(self) -> int:
        """Guild member flags."""
        return (self.extra or _NO_EXTRA).flags

    @property
    def pending(self) -> bool:
        """Has not yet passed membership screening."""
        return (self.extra or _NO_EXTRA).pending

    @property
    def deaf(self) -> bool:
        """Server-deafened."""
        return (self.extra or _NO_EXTRA).deaf

    @property
    def mute(self) -> bool:
        """Server-muted."""
        return (self.extra or _NO_EXTRA).mute

    def set(self, **fields: Any) -> None:
        """Change fields, ``extra`` ones included (``member.set(nick="x", deaf=True)``).

        On a member read from the cache the change is written to its guild's table too.
        """
        extra = self.extra
        for name, value in fields.items():
            if name in MEMBER_EXTRA_FIELDS:
                if extra is None:
                    if getattr(_NO_EXTRA, name) == value:
                        continue
                    extra = MemberExtra()
                else:
                    extra = MemberExtra(**{f: getattr(extra, f) for f in MEMBER_EXTRA_FIELDS})
                setattr(extra, name, value)
            elif name in _FIELDS[:4]:
                setattr(self, name, value)
            else:
                raise AttributeError(f"Member has no field {name!r}")
        self.extra = None if extra is None or extra == _NO_EXTRA else extra
        if self._table is not None:
            self._table.store(self)


def _stamp(moment: datetime.datetime | None) -> float:
    """``joined_at`` as kept in the table: a POSIX timestamp, NaN for None."""
    return _NAN if moment is None else moment.timestamp()


class MemberTable(Mapping[Snowflake, Member]):
    """The members of one guild in columns, read as a ``Mapping[user id, Member]``.

    Reads materialize :class:`Member` records (see the module docstring). Writes go
    through :meth:`put`, :meth:`remove`, :meth:`store` (what :meth:`Member.set` calls),
    :meth:`drop_role` and :meth:`build`; the cache calls them, and keeps the reference
    counts of the shared users itself.
    """

    __slots__ = (
        "_extras",
        "_ids",
        "_joined",
        "_nicks",
        "_role_index",
        "_role_sets",
        "_roles",
        "_users",
    )

    def __init__(self, users: UserTable | None = None) -> None:
        """``users``: where the members' users are kept (None: a table of its own)."""
        self._users = UserTable() if users is None else users
        self._ids = array("Q")
        self._joined = array("d")
        self._roles = array("B")  # "I" once a guild has more than 256 role tuples
        self._role_sets: list[tuple[Snowflake, ...]] = [()]
        self._role_index: dict[tuple[Snowflake, ...], int] = {(): 0}
        self._nicks: list[str | None] | None = None  # parallel to the ids, once one is set
        self._extras: dict[Snowflake, MemberExtra] | None = None

    # ------------------------------------------------------------------ Mapping
    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[Snowflake]:
        return iter(self._ids)

    def __contains__(self, user_id: object) -> bool:
        return find_row(self._ids, user_id) >= 0

    def __getitem__(self, user_id: Snowflake) -> Member:
        row = find_row(self._ids, user_id)
        if row < 0:
            raise KeyError(user_id)
        return self._make(row)

    def get(self, user_id: Snowflake, default: Any = None) -> Any:
        """The member of that user id, else ``default``."""
        row = find_row(self._ids, user_id)
        return default if row < 0 else self._make(row)

    def __repr__(self) -> str:
        return f"<MemberTable members={len(self._ids)} role_sets={len(self._role_sets)}>"

    def _make(self, row: int) -> Member:
        uid = self._ids[row]
        stamp = self._joined[row]
        user = self._users.find(uid)
        member = Member(
            user=User(id=uid) if user is None else user,
            roles=self._role_sets[self._roles[row]],
            joined_at=None if _isnan(stamp) else _FROM_TS(stamp, _UTC),
            nick=None if self._nicks is None else self._nicks[row],
            extra=None if self._extras is None else self._extras.get(uid),
        )
        member._table = self
        return member

    def unchanged(
        self,
        user_id: Snowflake,
        *,
        roles: tuple[Snowflake, ...],
        joined_at: datetime.datetime | None,
        nick: str | None,
        extra: MemberExtra | None,
    ) -> bool:
        """Whether the member is kept with exactly these fields (no record is made)."""
        row = find_row(self._ids, user_id)
        if row < 0 or self._role_sets[self._roles[row]] != roles:
            return False
        stamp = self._joined[row]
        if joined_at is None:
            if not _isnan(stamp):
                return False
        elif stamp != _stamp(joined_at):
            return False
        nicks, extras = self._nicks, self._extras
        return (None if nicks is None else nicks[row]) == nick and (
            None if extras is None else extras.get(user_id)
        ) == extra

    # ------------------------------------------------------------------ roles
    def role_set(self, roles: Iterable[Snowflake]) -> tuple[Snowflake, ...]:
        """The shared tuple equal to ``roles`` in this guild."""
        return self._role_sets[self._role_slot(tuple(roles))]

    def _role_slot(self, roles: tuple[Snowflake, ...]) -> int:
        slot = self._role_index.get(roles)
        if slot is None:
            slot = self._role_index[roles] = len(self._role_sets)
            self._role_sets.append(roles)
            if slot == 256 and self._roles.typecode == "B":
                self._roles = array("I", self._roles)
        return slot

    def _slot_code(self) -> str:
        return "B" if len(self._role_sets) <= 256 else "I"

    def drop_role(self, role_id: Snowflake) -> None:
        """Take a deleted role off every member that has it."""
        moved = {
            slot: self._role_slot(tuple(r for r in roles if r != role_id))
            for slot, roles in enumerate(self._role_sets)
            if role_id in roles
        }
        if moved:
            kept = [moved.get(slot, slot) for slot in self._roles]
            self._roles = array(self._slot_code(), kept)

    # ------------------------------------------------------------------ writing
    def build(
        self,
        ids: list[Snowflake],
        *,
        joined: list[datetime.datetime | None],
        roles: list[tuple[Snowflake, ...]],
        nicks: list[str | None] | None,
        extras: dict[Snowflake, MemberExtra] | None,
    ) -> None:
        """Fill an empty table from parallel columns (a guild's member list, each user id
        once), whose users are in the table's :class:`UserTable` already. ``nicks`` is
        parallel to ``ids`` (None: nobody has one); ``extras`` is by user id."""
        if self._ids:
            raise ValueError("MemberTable.build needs an empty table")
        if len(set(ids)) != len(ids):
            raise ValueError("MemberTable.build needs each user id once")
        slots: list[int | None] = list(map(self._role_index.get, roles))
        if None in slots:
            for i, found in enumerate(slots):
                if found is None:
                    slots[i] = self._role_slot(roles[i])
        stamper: Any = _TIMESTAMP if None not in joined else _stamp
        order = sort_order(ids)
        if order is None:
            self._ids = array("Q", ids)
            self._joined = array("d", map(stamper, joined))
            self._roles = array(self._slot_code(), slots)  # type: ignore[arg-type]
            self._nicks = None if nicks is None else list(nicks)
        else:
            self._ids = array("Q", map(ids.__getitem__, order))
            self._joined = array("d", map(stamper, map(joined.__getitem__, order)))
            ordered = map(slots.__getitem__, order)
            self._roles = array(self._slot_code(), ordered)  # type: ignore[arg-type]
            self._nicks = None if nicks is None else list(map(nicks.__getitem__, order))
        self._extras = extras or None

    def put(self, member: Member) -> Member:
        """Keep ``member`` (replacing the row of its user id); returns it, attached to this
        table and with its ``roles`` the shared tuple."""
        uid = member.user.id
        ids = self._ids
        row = bisect_left(ids, uid)
        if uid not in self._users:
            member.user = self._users.put(member.user)
        if row == len(ids) or ids[row] != uid:
            ids.insert(row, uid)
            self._joined.insert(row, _NAN)
            self._roles.insert(row, 0)
            if self._nicks is not None:
                self._nicks.insert(row, None)
        self._write(row, uid, member)
        member._table = self
        return member

    def put_many(self, members: list[Member]) -> None:
        """:meth:`put` for a batch (a member chunk): new rows are merged into the columns in
        one pass rather than inserted one by one. A user id listed twice: the last wins."""
        fresh: dict[Snowflake, Member] = {}
        for member in members:
            uid = member.user.id
            if uid not in self._users:
                member.user = self._users.put(member.user)
            member._table = self
            row = find_row(self._ids, uid)
            if row >= 0:
                self._write(row, uid, member)
            else:
                fresh[uid] = member
        if not fresh:
            return
        new = sorted(fresh.items())
        self._insert_rows([uid for uid, _ in new])
        for uid, member in new:
            self._write(find_row(self._ids, uid), uid, member)

    def _insert_rows(self, new_ids: list[Snowflake]) -> None:
        """Add blank rows for ``new_ids`` (sorted, none kept yet), keeping the columns sorted."""
        ids, joined, roles, nicks = self._ids, self._joined, self._roles, self._nicks
        count = len(new_ids)
        if not ids or new_ids[0] > ids[-1]:
            ids.extend(new_ids)
            joined.extend([_NAN] * count)
            roles.extend([0] * count)
            if nicks is not None:
                nicks.extend([None] * count)
            return
        merged_ids, merged_joined = array("Q"), array("d")
        merged_roles = array(roles.typecode)
        merged_nicks: list[str | None] | None = None if nicks is None else []
        start = 0
        for uid in new_ids:
            at = bisect_left(ids, uid, start)
            merged_ids += ids[start:at]
            merged_joined += joined[start:at]
            merged_roles += roles[start:at]
            merged_ids.append(uid)
            merged_joined.append(_NAN)
            merged_roles.append(0)
            if merged_nicks is not None and nicks is not None:
                merged_nicks += nicks[start:at]
                merged_nicks.append(None)
            start = at
        merged_ids += ids[start:]
        merged_joined += joined[start:]
        merged_roles += roles[start:]
        if merged_nicks is not None and nicks is not None:
            merged_nicks += nicks[start:]
        self._ids, self._joined, self._roles = merged_ids, merged_joined, merged_roles
        self._nicks = merged_nicks

    def store(self, member: Member) -> None:
        """Write a materialized member's fields back to its row (nothing if it has left)."""
        uid = member.user.id
        row = find_row(self._ids, uid)
        if row >= 0:
            self._write(row, uid, member)

    def _write(self, row: int, uid: Snowflake, member: Member) -> None:
        self._joined[row] = _stamp(member.joined_at)
        slot = self._role_slot(tuple(member.roles)) if member.roles else 0
        self._roles[row] = slot
        member.roles = self._role_sets[slot]
        if member.nick is not None:
            if self._nicks is None:
                self._nicks = [None] * len(self._ids)
            self._nicks[row] = member.nick
        elif self._nicks is not None:
            self._nicks[row] = None
        if member.extra is not None:
            if self._extras is None:
                self._extras = {}
            self._extras[uid] = member.extra
        elif self._extras is not None:
            self._extras.pop(uid, None)

    def remove(self, user_id: Snowflake) -> Member | None:
        """Forget a member; returns it (materialized, detached), or None."""
        row = find_row(self._ids, user_id)
        if row < 0:
            return None
        member = self._make(row)
        member._table = None
        del self._ids[row]
        del self._joined[row]
        del self._roles[row]
        if self._nicks is not None:
            del self._nicks[row]
        if self._extras is not None:
            self._extras.pop(user_id, None)
        return member
