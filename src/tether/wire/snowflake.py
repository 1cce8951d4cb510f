"""Snowflake helpers (spec section 10.1). IDs travel as decimal strings."""

from __future__ import annotations

__all__ = ["DISCORD_EPOCH_MS", "snowflake_from_ms", "snowflake_time_ms"]

DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_time_ms(snowflake: int | str) -> int:
    """Milliseconds since the Unix epoch at which ``snowflake`` was made."""
    return (int(snowflake) >> 22) + DISCORD_EPOCH_MS


def snowflake_from_ms(ms: int, increment: int = 0) -> int:
    """Build a snowflake for the Unix time ``ms`` with a 12-bit ``increment``."""
    return ((ms - DISCORD_EPOCH_MS) << 22) | (increment & 0xFFF)
