"""The exception tree of tether.

::

    TetherError
    ├── ConfigError                 bad arguments given to tether (ValueError too)
    ├── InvalidState                the API was misused (e.g. start() twice); AssertionError too
    ├── WireError                   bytes from the peer could not be understood
    │   ├── DecodeError             not JSON, or not a gateway envelope
    │   ├── DecompressionError      corrupt zlib-stream / zstd-stream data
    │   └── PayloadTooLarge         a payload over the bounded size (in or out)
    ├── GatewayError                the gateway ended the client's work
    │   ├── FatalCloseError         a close code after which retrying is pointless
    │   │   ├── AuthenticationFailed    4004: the token was refused
    │   │   ├── InvalidShard            4010
    │   │   ├── ShardingRequired        4011
    │   │   ├── InvalidApiVersion       4012
    │   │   ├── InvalidIntents          4013
    │   │   └── DisallowedIntents       4014
    │   └── ConnectTimeout          no HELLO/READY/RESUMED within the connect timeout
    └── HTTPError                   a REST call failed (status, code, message)

Close errors carry ``code``, ``initiator`` and ``resumable`` as fields, never only as text.
No exception message ever contains the bot token.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "ConfigError",
    "ConnectTimeout",
    "DecodeError",
    "DecompressionError",
    "DisallowedIntents",
    "FatalCloseError",
    "GatewayError",
    "HTTPError",
    "InvalidApiVersion",
    "InvalidIntents",
    "InvalidShard",
    "InvalidState",
    "PayloadTooLarge",
    "ShardingRequired",
    "TetherError",
    "WireError",
    "fatal_error_for",
]


class TetherError(Exception):
    """Base class of every error raised by tether."""


class ConfigError(TetherError, ValueError):
    """An argument given to tether is invalid; raised before any I/O."""


class InvalidState(TetherError, AssertionError):
    """The API was used in a state that does not allow it."""


class WireError(TetherError):
    """Bytes from the peer could not be turned into a payload."""


class DecodeError(WireError):
    """A frame is not valid JSON or not a gateway envelope."""


class DecompressionError(WireError):
    """Compressed transport data is corrupt."""


class PayloadTooLarge(WireError):
    """A payload exceeds the configured bound."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"payload of at least {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class GatewayError(TetherError):
    """The gateway connection manager stopped for a reason it cannot recover from."""


class FatalCloseError(GatewayError):
    """The gateway closed with a code after which reconnecting cannot help.

    Attributes:
        code: the close code.
        initiator: ``"server"`` for these.
        resumable: always False.
        shard_id: the shard it happened on.
    """

    hint = "the gateway refused this client"

    def __init__(self, code: int, *, shard_id: int = 0, reason: str = "") -> None:
        text = f"gateway closed with {code} on shard {shard_id}: {self.hint}"
        if reason:
            text += f" (server said: {reason!r})"
        super().__init__(text)
        self.code = code
        self.initiator = "server"
        self.resumable = False
        self.shard_id = shard_id
        self.reason = reason


class AuthenticationFailed(FatalCloseError):
    """4004: the token is invalid (or was reset)."""

    hint = "authentication failed; check the token (it was not retried)"


class InvalidShard(FatalCloseError):
    """4010: the shard id or count is invalid."""

    hint = "invalid shard; check shard ids and shard count"


class ShardingRequired(FatalCloseError):
    """4011: the session would hold too many guilds; run more shards."""

    hint = "sharding required; restart with more shards (shards='auto')"


class InvalidApiVersion(FatalCloseError):
    """4012: the gateway version is not supported."""

    hint = "invalid API version"


class InvalidIntents(FatalCloseError):
    """4013: the intents value has undefined bits or is malformed."""

    hint = "invalid intents value"


class DisallowedIntents(FatalCloseError):
    """4014: a privileged intent is not enabled for this application."""

    hint = "a privileged intent is not enabled for this application in the Developer Portal"


class ConnectTimeout(GatewayError):
    """A connection attempt did not reach READY or RESUMED in time (recoverable; reported)."""


class HTTPError(TetherError):
    """A REST request failed.

    Attributes:
        status: the HTTP status.
        code: Discord's JSON error code (0 when absent).
        message: Discord's error message.
    """

    def __init__(self, status: int, code: int = 0, message: str = "") -> None:
        super().__init__(f"HTTP {status} (code {code}): {message}")
        self.status = status
        self.code = code
        self.message = message


_FATAL: dict[int, type[FatalCloseError]] = {
    4004: AuthenticationFailed,
    4010: InvalidShard,
    4011: ShardingRequired,
    4012: InvalidApiVersion,
    4013: InvalidIntents,
    4014: DisallowedIntents,
}


def fatal_error_for(code: int, *, shard_id: int = 0, reason: str = "") -> FatalCloseError:
    """The typed error for a fatal close ``code`` (a plain FatalCloseError for others)."""
    return _FATAL.get(code, FatalCloseError)(code, shard_id=shard_id, reason=reason)
