"""Presences (spec 10.9): what an online member is doing, and :class:`PresenceTable`, the
compact per-guild store of them."""

from __future__ import annotations

import datetime
from array import array
from bisect import bisect_left
from collections.abc import Iterator, MutableMapping
from typing import Any

from tether.models.base import Record, Snowflake
from tether.models.columns import find_row, sort_order

__all__ = ["Activity", "ClientStatus", "Presence", "PresenceTable"]


class ClientStatus(Record, kw_only=True):
    """Per-platform status; a platform is None while the user is offline on it."""

    desktop: str | None = None
    mobile: str | None = None
    web: str | None = None


class Activity(Record, kw_only=True):
    """One activity (game, stream, custom status, ...)."""

    name: str = ""
    type: int = 0
    url: str | None = None
    state: str | None = None
    details: str | None = None
    application_id: Snowflake | None = None
    created_at: int | None = None


class Presence(Record, kw_only=True):
    """A member's status in one guild; offline members have none in the cache."""

    status: str = "offline"
    client_status: ClientStatus | None = None
    activities: tuple[Activity, ...] = ()
    since: datetime.datetime | None = None


class PresenceTable(MutableMapping[Snowflake, Presence]):
    """A guild's presences by user id, in two columns: a sorted ``array('Q')`` of ids and
    a list of (mostly shared) :class:`Presence` records; about 16 bytes an entry instead
    of about 70 for a dict entry and its int key. Reads return the kept records themselves.
    """

    __slots__ = ("_ids", "_presences")

    def __init__(self) -> None:
        self._ids = array("Q")
        self._presences: list[Presence] = []

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[Snowflake]:
        return iter(self._ids)

    def __repr__(self) -> str:
        return f"<PresenceTable presences={len(self._ids)}>"

    def __contains__(self, user_id: object) -> bool:
        return find_row(self._ids, user_id) >= 0

    def __getitem__(self, user_id: Snowflake) -> Presence:
        row = find_row(self._ids, user_id)
        if row < 0:
            raise KeyError(user_id)
        return self._presences[row]

    def get(self, user_id: Snowflake, default: Any = None) -> Any:
        """The presence of that user id, else ``default``."""
        row = find_row(self._ids, user_id)
        return default if row < 0 else self._presences[row]

    def __setitem__(self, user_id: Snowflake, presence: Presence) -> None:
        ids = self._ids
        row = bisect_left(ids, user_id)
        if row < len(ids) and ids[row] == user_id:
            self._presences[row] = presence
        else:
            ids.insert(row, user_id)
            self._presences.insert(row, presence)

    def __delitem__(self, user_id: Snowflake) -> None:
        row = find_row(self._ids, user_id)
        if row < 0:
            raise KeyError(user_id)
        del self._ids[row]
        del self._presences[row]

    def build(self, ids: list[Snowflake], presences: list[Presence]) -> None:
        """Fill an empty table from parallel lists (a user id listed twice: the last wins)."""
        if self._ids:
            raise ValueError("PresenceTable.build needs an empty table")
        if len(set(ids)) != len(ids):
            last = {uid: i for i, uid in enumerate(ids)}
            ids = [ids[i] for i in sorted(last.values())]
            presences = [presences[i] for i in sorted(last.values())]
        order = sort_order(ids)
        if order is None:
            self._ids = array("Q", ids)
            self._presences = list(presences)
        else:
            self._ids = array("Q", map(ids.__getitem__, order))
            self._presences = list(map(presences.__getitem__, order))
