"""The emulator's beliefs about the gateway protocol, as pure functions and tables.

Written from the spec (sections 1.2, 2, 4.1, 5, 6, 8, 9 and 14), independently of the
client's policy in ``tether.gateway``: if both sides shared one table, a shared mistake
would pass every test. Nothing here does I/O or reads a clock.

Decisions (``[EMU]`` in the spec) made here:

- an opcode the client may not send (0, 5, 7, 9, 10, 11, 12, 99, ...) closes with 4001,
  checked before authentication (which closes with 4003);
- an IDENTIFY or RESUME that is not an object with the required string fields gets 4001;
- a server close invalidates the session for 4003, 4004, 4007, 4009 and 4010-4014 and
  keeps it resumable otherwise (4000, 4001, 4002, 4005, 4006, 4008, 1000, 1001, ...);
- a client close with 1000 or 1001 invalidates it; any other code or a drop keeps it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from tether.wire.close_codes import CloseCode
from tether.wire.intents import ALL_DEFINED, PRIVILEGED
from tether.wire.opcodes import Op

__all__ = [
    "API_VERSION",
    "CLIENT_OPCODES",
    "SERVER_CLOSE_INVALIDATES",
    "IdentifyRequest",
    "MembersRequest",
    "QueryVerdict",
    "Rejection",
    "ResumeRequest",
    "check_opcode",
    "check_query",
    "client_close_keeps_session",
    "identify_bucket",
    "parse_identify",
    "parse_request_members",
    "parse_resume",
    "server_close_keeps_session",
]

API_VERSION = 10

#: Opcodes a client may send (spec 2.2). Anything else closes with 4001.
CLIENT_OPCODES: frozenset[int] = frozenset(
    {
        Op.HEARTBEAT,
        Op.IDENTIFY,
        Op.PRESENCE_UPDATE,
        Op.VOICE_STATE_UPDATE,
        Op.RESUME,
        Op.REQUEST_GUILD_MEMBERS,
        Op.REQUEST_SOUNDBOARD_SOUNDS,
        Op.REQUEST_CHANNEL_INFO,
    }
)

#: Opcodes allowed before IDENTIFY/RESUME succeeded (spec 4.1).
_UNAUTHENTICATED_OPCODES = frozenset({Op.HEARTBEAT, Op.IDENTIFY, Op.RESUME})

#: Server close codes after which the session is gone (spec 14 H47, 5.5).
SERVER_CLOSE_INVALIDATES: frozenset[int] = frozenset(
    {
        CloseCode.NOT_AUTHENTICATED,
        CloseCode.AUTHENTICATION_FAILED,
        CloseCode.INVALID_SEQ,
        CloseCode.SESSION_TIMED_OUT,
        CloseCode.INVALID_SHARD,
        CloseCode.SHARDING_REQUIRED,
        CloseCode.INVALID_API_VERSION,
        CloseCode.INVALID_INTENTS,
        CloseCode.DISALLOWED_INTENTS,
    }
)

_LARGE_THRESHOLD_MIN = 50
_LARGE_THRESHOLD_MAX = 250
_MAX_NONCE_BYTES = 32
_MAX_USER_IDS = 100


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """Why a client payload was refused: a close code, or op 9 when ``close_code`` is None."""

    close_code: int | None
    reason: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class QueryVerdict:
    """The outcome of checking the connect URL's query string (spec 1.2, 14 B10)."""

    compress: str | None
    rejection: Rejection | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IdentifyRequest:
    """A validated IDENTIFY."""

    intents: int
    shard: tuple[int, int] | None
    large_threshold: int
    compress: bool
    properties: dict[str, Any]
    presence: Any


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResumeRequest:
    """A structurally valid RESUME (token still to be checked)."""

    token: str
    session_id: str
    seq: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MembersRequest:
    """A validated op 8 Request Guild Members (spec 2.10)."""

    guild_id: int
    query: str | None
    limit: int
    user_ids: list[str] | None
    presences: bool
    nonce: str | None


def check_query(query: Mapping[str, str], *, zstd_available: bool = False) -> QueryVerdict:
    """Check ``v``, ``encoding`` and ``compress`` (4012 for a bad version, 4002 otherwise)."""
    version = query.get("v")
    if version is None or not version.isdigit() or int(version) != API_VERSION:
        return _query_reject(CloseCode.INVALID_API_VERSION, f"unsupported API version {version!r}")
    encoding = query.get("encoding", "json")
    if encoding != "json":
        return _query_reject(CloseCode.DECODE_ERROR, f"encoding {encoding!r} is not supported")
    compress = query.get("compress") or None
    if compress not in (None, "zlib-stream", "zstd-stream"):
        return _query_reject(CloseCode.DECODE_ERROR, f"unknown compress {compress!r}")
    if compress == "zstd-stream" and not zstd_available:
        return _query_reject(CloseCode.DECODE_ERROR, "zstd-stream needs the zstandard package")
    return QueryVerdict(compress=compress)


def _query_reject(code: int, reason: str) -> QueryVerdict:
    return QueryVerdict(compress=None, rejection=Rejection(close_code=code, reason=reason))


def check_opcode(op: int, *, authenticated: bool) -> Rejection | None:
    """4001 for an opcode a client may not send, 4003 for a non-heartbeat before auth."""
    if op not in CLIENT_OPCODES:
        return Rejection(close_code=CloseCode.UNKNOWN_OPCODE, reason=f"opcode {op} not allowed")
    if not authenticated and op not in _UNAUTHENTICATED_OPCODES:
        return Rejection(
            close_code=CloseCode.NOT_AUTHENTICATED, reason=f"opcode {op} before IDENTIFY"
        )
    return None


def _reject(code: int, reason: str) -> Rejection:
    return Rejection(close_code=code, reason=reason)


def parse_identify(
    d: Any,
    *,
    token: str,
    enabled_privileged: int,
    guilds_on_shard: Callable[[tuple[int, int] | None], int],
    max_guilds_per_shard: int,
    shard_count_multiple: int | None = None,
) -> IdentifyRequest | Rejection:
    """Validate an IDENTIFY ``d`` (spec 2.5, 14 B14), in the order the checks are listed.

    Args:
        d: the payload's ``d``.
        token: the token the emulator accepts.
        enabled_privileged: privileged intent bits the application may use.
        guilds_on_shard: how many guilds a session on a shard (None: unsharded) would hold.
        max_guilds_per_shard: 4011 above this.
        shard_count_multiple: when set, ``num_shards`` must be a multiple of it.

    Returns:
        The parsed request, or the rejection to answer with.
    """
    if not isinstance(d, dict) or not isinstance(d.get("token"), str):
        return _reject(CloseCode.UNKNOWN_OPCODE, "IDENTIFY needs an object with a string token")
    if not isinstance(d.get("properties"), dict):
        return _reject(CloseCode.UNKNOWN_OPCODE, "IDENTIFY needs a properties object")
    if d["token"] != token:
        return _reject(CloseCode.AUTHENTICATION_FAILED, "invalid token")
    intents = d.get("intents")
    if isinstance(intents, str) and intents.isdigit():
        intents = int(intents)
    if not isinstance(intents, int) or isinstance(intents, bool) or intents < 0:
        return _reject(CloseCode.INVALID_INTENTS, f"invalid intents {intents!r}")
    if intents & ~ALL_DEFINED:
        return _reject(CloseCode.INVALID_INTENTS, f"undefined intent bits {intents & ~ALL_DEFINED}")
    if intents & PRIVILEGED & ~enabled_privileged:
        return _reject(CloseCode.DISALLOWED_INTENTS, "privileged intents not enabled")
    shard: tuple[int, int] | None = None
    if d.get("shard") is not None:
        raw = d["shard"]
        if (
            not isinstance(raw, list)
            or len(raw) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in raw)
            or not 0 <= raw[0] < raw[1]
            or (shard_count_multiple and raw[1] % shard_count_multiple)
        ):
            return _reject(CloseCode.INVALID_SHARD, f"invalid shard {raw!r}")
        shard = (raw[0], raw[1])
    if guilds_on_shard(shard) > max_guilds_per_shard:
        return _reject(CloseCode.SHARDING_REQUIRED, "too many guilds for one session")
    threshold = d.get("large_threshold", _LARGE_THRESHOLD_MIN)
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        threshold = _LARGE_THRESHOLD_MIN
    threshold = min(max(threshold, _LARGE_THRESHOLD_MIN), _LARGE_THRESHOLD_MAX)
    return IdentifyRequest(
        intents=intents,
        shard=shard,
        large_threshold=threshold,
        compress=d.get("compress") is True,
        properties=d["properties"],
        presence=d.get("presence"),
    )


def parse_resume(d: Any) -> ResumeRequest | Rejection:
    """Check a RESUME's shape (4001 when wrong). A null ``seq`` reads as 0."""
    if (
        not isinstance(d, dict)
        or not isinstance(d.get("token"), str)
        or not isinstance(d.get("session_id"), str)
    ):
        return _reject(CloseCode.UNKNOWN_OPCODE, "RESUME needs token and session_id strings")
    seq = d.get("seq")
    if seq is None:
        seq = 0
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return _reject(CloseCode.UNKNOWN_OPCODE, f"invalid RESUME seq {seq!r}")
    return ResumeRequest(token=d["token"], session_id=d["session_id"], seq=seq)


def parse_request_members(d: Any) -> MembersRequest | Rejection:
    """Validate an op 8 ``d`` (spec 2.10): one guild, ``query``+``limit`` or ``user_ids``."""
    if not isinstance(d, dict):
        return _reject(CloseCode.UNKNOWN_OPCODE, "op 8 needs an object")
    raw_guild = d.get("guild_id")
    if isinstance(raw_guild, list):
        raw_guild = raw_guild[0] if raw_guild else None
    try:
        guild_id = int(raw_guild)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _reject(CloseCode.UNKNOWN_OPCODE, "op 8 needs a guild_id")
    query, user_ids = d.get("query"), d.get("user_ids")
    if query is None and user_ids is None:
        return _reject(CloseCode.UNKNOWN_OPCODE, "op 8 needs query or user_ids")
    limit = d.get("limit", 0)
    if query is not None and (not isinstance(query, str) or not isinstance(limit, int)):
        return _reject(CloseCode.UNKNOWN_OPCODE, "op 8 query needs a string and a limit")
    ids: list[str] | None = None
    if user_ids is not None:
        ids = [str(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])]
        if len(ids) > _MAX_USER_IDS:
            return _reject(CloseCode.UNKNOWN_OPCODE, "op 8 user_ids over 100")
    nonce = d.get("nonce")
    if not isinstance(nonce, str) or len(nonce.encode()) > _MAX_NONCE_BYTES:
        nonce = None
    return MembersRequest(
        guild_id=guild_id,
        query=query if ids is None else None,
        limit=limit if isinstance(limit, int) else 0,
        user_ids=ids,
        presences=d.get("presences") is True,
        nonce=nonce,
    )


def identify_bucket(shard: tuple[int, int] | None, max_concurrency: int) -> int:
    """The identify rate-limit key ``shard_id % max_concurrency`` (spec 6.2)."""
    return (shard[0] if shard else 0) % max(1, max_concurrency)


def server_close_keeps_session(code: int) -> bool:
    """Whether a session stays resumable after the server closed with ``code`` (H47)."""
    return code not in SERVER_CLOSE_INVALIDATES


def client_close_keeps_session(code: int | None) -> bool:
    """Whether a session stays resumable after the client closed with ``code``.

    ``None`` stands for a connection lost without a close frame (spec 5.3, 14 G43).
    """
    return code not in (CloseCode.NORMAL, CloseCode.GOING_AWAY)
