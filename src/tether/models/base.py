"""The record style of every Discord object tether keeps: slotted, typed, lean.

Records are :class:`msgspec.Struct` classes, so JSON decodes straight into them (no
intermediate dicts) and only the declared fields are decoded; unknown keys are skipped.
Every record class is declared ``kw_only=True`` (msgspec does not inherit it), compares
by value and carries no behaviour beyond small read-only properties. ``gc=False`` keeps them out
of the cyclic garbage collector (saving 16 bytes each and the collector's time): records
never point back at their owners, so they never form a reference cycle.

Snowflakes are plain ``int`` (decoded from Discord's strings with ``strict=False``), and
timestamps are :class:`datetime.datetime`. Decoders live beside the cache, built with
:func:`decoder`, so that every record decodes with the same lenient rules.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

__all__ = ["Record", "Snowflake", "decoder"]

#: A Discord id: a 64-bit unsigned integer that travels as a decimal string (spec 10.1).
Snowflake = int

T = TypeVar("T")


class Record(msgspec.Struct, kw_only=True, gc=False, repr_omit_defaults=True):
    """Base of every model record (see the module docstring for the rules)."""


def decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    """A JSON decoder into ``kind`` that accepts ids as strings (``strict=False``)."""
    return msgspec.json.Decoder(kind, strict=False)
