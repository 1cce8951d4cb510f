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
    │   ├── ConnectTimeout          no HELLO/READY/RESUMED within the connect timeout
    │   └── SessionBudgetExhausted  IDENTIFY refused: the daily session starts are too low
    ├── HTTPError                   a REST call failed (status, code, message, errors)
    │   ├── Unauthorized            401: the token was refused (never retried)
    │   ├── Forbidden               403: missing access or permissions (or a Cloudflare ban)
    │   ├── NotFound                404: unknown channel, message, guild, ...
    │   │   └── InteractionTimedOut     10062: the first answer came after the 3 s window
    │   ├── InteractionAlreadyResponded 40060: a second initial response
    │   ├── RateLimited             429 that tether would not wait for (retry_after, scope)
    │   └── ServerError             5xx (after the retries an idempotent request gets)
    ├── InvalidRequestLimit         tether stopped sending before Discord's invalid-request ban
    └── MemberRequestError          a member request (gateway op 8) got no usable answer
        ├── MemberRequestTimeout    no complete answer in time (how far it got is a field)
        └── MemberRequestRateLimited    RATE_LIMITED instead of chunks (retry_after)

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
    "Forbidden",
    "GatewayError",
    "HTTPError",
    "InteractionAlreadyResponded",
    "InteractionTimedOut",
    "InvalidApiVersion",
    "InvalidIntents",
    "InvalidRequestLimit",
    "InvalidShard",
    "InvalidState",
    "MemberRequestError",
    "MemberRequestRateLimited",
    "MemberRequestTimeout",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "SessionBudgetExhausted",
    "ShardingRequired",
    "TetherError",
    "Unauthorized",
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


class SessionBudgetExhausted(GatewayError):
    """tether refused to IDENTIFY: the daily session-start budget is at or below the floor.

    Discord resets the token of a bot that uses up its session starts; tether stops first.

    Attributes:
        remaining: session starts left (as counted locally from ``/gateway/bot``).
        floor: the configured floor.
        shard_id: the shard that wanted to IDENTIFY (None when refused at start).
        needed: starts a start() needed, when it was refused for that.
        reset_in: seconds until the budget refills, if known.
    """

    def __init__(
        self,
        *,
        remaining: int,
        floor: int,
        shard_id: int | None,
        needed: int | None = None,
        reset_in: float | None = None,
    ) -> None:
        what = f"shard {shard_id}" if shard_id is not None else "start()"
        text = f"{what}: session-start budget too low ({remaining} left, floor {floor}"
        if needed is not None:
            text += f", {needed} needed"
        text += ")"
        if reset_in is not None:
            text += f"; it refills in {reset_in:.0f} s"
        super().__init__(text + "; not identifying, to keep the token from being reset")
        self.remaining = remaining
        self.floor = floor
        self.shard_id = shard_id
        self.needed = needed
        self.reset_in = reset_in


class HTTPError(TetherError):
    """A REST request failed.

    Attributes:
        status: the HTTP status.
        code: Discord's JSON error code (0 when absent).
        message: Discord's error message.
        errors: Discord's nested ``errors`` object (form errors), or None.
        route: the route template, e.g. ``"POST /channels/{channel_id}/messages"`` (never
            the concrete path: webhook and interaction paths hold a token).
    """

    def __init__(
        self,
        status: int,
        code: int = 0,
        message: str = "",
        *,
        errors: object = None,
        route: str = "",
    ) -> None:
        where = f"{route}: " if route else ""
        super().__init__(f"{where}HTTP {status} (code {code}): {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.route = route


class Unauthorized(HTTPError):
    """401: the token is invalid (or was reset). Never retried."""


class Forbidden(HTTPError):
    """403: missing access or permissions; also the answer of a Cloudflare ban."""


class NotFound(HTTPError):
    """404: the channel, message, guild, member, interaction or webhook does not exist."""


class InteractionTimedOut(NotFound):
    """The first answer to an interaction came too late (Discord: 404, code 10062).

    Attributes:
        elapsed: seconds between receiving the interaction and the answer, when known.
        sent: False when tether detected the lateness itself and sent nothing.
    """

    def __init__(
        self,
        status: int = 404,
        code: int = 10062,
        message: str = "Unknown interaction",
        *,
        errors: object = None,
        route: str = "",
        elapsed: float | None = None,
        sent: bool = True,
    ) -> None:
        if elapsed is not None:
            message = (
                f"{message}: answered {elapsed:.2f} s after the interaction arrived; the first "
                "response must come within 3 s (call defer() first when the work takes longer)"
            )
        super().__init__(status, code, message, errors=errors, route=route)
        self.elapsed = elapsed
        self.sent = sent


class InteractionAlreadyResponded(HTTPError):
    """A second initial response to one interaction (Discord: 400, code 40060)."""


class RateLimited(HTTPError):
    """A 429 that tether did not wait out (too long, or too many in a row).

    Attributes:
        retry_after: seconds Discord asked to wait.
        scope: ``"user"``, ``"global"`` or ``"shared"`` (``X-RateLimit-Scope``).
        is_global: whether it was the global limit.
    """

    def __init__(
        self,
        retry_after: float,
        *,
        scope: str = "user",
        is_global: bool = False,
        route: str = "",
        message: str = "You are being rate limited.",
    ) -> None:
        text = f"{message} (retry after {retry_after:.3f} s, scope {scope})"
        super().__init__(429, 0, text, route=route)
        self.retry_after = retry_after
        self.scope = scope
        self.is_global = is_global


class ServerError(HTTPError):
    """5xx: Discord failed (idempotent requests were retried first)."""


class InvalidRequestLimit(TetherError):
    """tether stopped sending: too many 401/403/429 answers in the window.

    Discord bans an IP for a while after 10,000 invalid requests in 10 minutes (spec 11.4);
    this guard trips well before that. Nothing is sent until the count falls below the limit.

    Attributes:
        count: invalid answers in the window.
        limit: the guard's limit.
        window: the window in seconds.
        retry_after: seconds until sending resumes.
    """

    def __init__(self, count: int, limit: int, window: float, retry_after: float) -> None:
        super().__init__(
            f"stopped sending REST requests: {count} invalid answers (401/403/429) in the last "
            f"{window:g} s reached the guard's limit of {limit} (Discord bans an IP at 10,000 per "
            f"10 minutes); sending resumes in {retry_after:.1f} s. Fix what makes the requests "
            "fail (token, permissions, ignored rate limits)."
        )
        self.count = count
        self.limit = limit
        self.window = window
        self.retry_after = retry_after


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


class MemberRequestError(TetherError):
    """A member request (gateway op 8, spec 2.10) got no usable answer.

    Attributes:
        guild_id: the guild asked about.
        nonce: the request's nonce.
    """

    def __init__(self, message: str, *, guild_id: int, nonce: str) -> None:
        super().__init__(message)
        self.guild_id = guild_id
        self.nonce = nonce


class MemberRequestTimeout(MemberRequestError):
    """No complete answer arrived in time. The gateway answers a full member list without
    the GUILD_MEMBERS intent with silence (spec 2.10), and a chunk stream may stop.

    Attributes:
        timeout: the seconds waited.
        chunks_received: chunks that did arrive.
        chunk_count: the number of chunks announced (None: not one arrived).
        members_received: members in the chunks that arrived.
    """

    def __init__(
        self,
        *,
        guild_id: int,
        nonce: str,
        timeout: float,
        chunks_received: int = 0,
        chunk_count: int | None = None,
        members_received: int = 0,
    ) -> None:
        if chunk_count is None:
            got = "no chunk at all (a full list without GUILD_MEMBERS is answered by silence)"
        else:
            got = f"{chunks_received} of {chunk_count} chunks ({members_received} members)"
        super().__init__(
            f"member request {nonce} for guild {guild_id}: {got} within {timeout:g} s",
            guild_id=guild_id,
            nonce=nonce,
        )
        self.timeout = timeout
        self.chunks_received = chunks_received
        self.chunk_count = chunk_count
        self.members_received = members_received


class MemberRequestRateLimited(MemberRequestError):
    """The gateway answered RATE_LIMITED (spec 2.16): a full member list of a guild may be
    asked once per 30 s. ``retry_after`` says when to try again."""

    def __init__(self, *, guild_id: int, nonce: str, retry_after: float) -> None:
        super().__init__(
            f"member request {nonce} for guild {guild_id} was rate limited; "
            f"retry after {retry_after:.1f} s",
            guild_id=guild_id,
            nonce=nonce,
        )
        self.retry_after = retry_after
