"""The bot token, wrapped so that it never shows up in a repr, a log line or an exception."""

from __future__ import annotations

from typing import final

__all__ = ["Token"]


@final
class Token:
    """A secret string. ``str()`` and ``repr()`` print ``<redacted>``; use :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = value.strip()
        if value.lower().startswith("bot "):
            value = value[4:].strip()
        self._value = value

    def reveal(self) -> str:
        """The raw token, for the IDENTIFY/RESUME payload and the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "Token(<redacted>)"

    def __str__(self) -> str:
        return "<redacted>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str:  # pragma: no cover - refuse pickling a secret
        raise TypeError("a Token cannot be pickled")
