"""What the column tables (:class:`~tether.models.UserTable`,
:class:`~tether.models.MemberTable`, :class:`~tether.models.PresenceTable`) share: a sorted
``array('Q')`` of ids, searched by bisection, and building it from ids in any order."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from itertools import islice
from operator import lt

__all__ = ["find_row", "sort_order"]

_ID_END = 1 << 64


def find_row(ids: array[int], key: object) -> int:
    """The index of ``key`` in the sorted ``ids``, or -1 (also for anything that is not a
    64-bit unsigned int, which ``array('Q')`` could not hold)."""
    if not isinstance(key, int) or not 0 <= key < _ID_END:
        return -1
    row = bisect_left(ids, key)
    return row if row < len(ids) and ids[row] == key else -1


def sort_order(ids: list[int]) -> list[int] | None:
    """None when ``ids`` are in rising order already (the usual case), else the indices
    that put them in rising order."""
    if all(map(lt, ids, islice(ids, 1, None))):
        return None
    return sorted(range(len(ids)), key=ids.__getitem__)
