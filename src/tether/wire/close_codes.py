"""Gateway close codes (spec section 5.5), as names only.

What a client *does* on each code is policy and lives in `tether.gateway.policy`;
what the emulator does lives in `tether.emulator`. This module only names them.
"""

from __future__ import annotations

import enum

__all__ = ["ABNORMAL_CLOSURE", "RESUMABLE_CLIENT_CLOSE", "CloseCode"]


class CloseCode(enum.IntEnum):
    """WebSocket close codes seen on the main gateway."""

    NORMAL = 1000
    GOING_AWAY = 1001
    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


#: What a WebSocket library reports when TCP died without a close frame (never on the wire).
ABNORMAL_CLOSURE = 1006

#: The code a client closes with when it wants to keep its session (anything but 1000/1001).
RESUMABLE_CLIENT_CLOSE = 4000
