"""The chaos catalogue: every fault of spec section 14 that applies to a running client.

Each :class:`ChaosKind` names one injection built from the emulator's fault API
(``emu.faults``), a weight for the seeded random draw, the recovery a correct client shows
when the fault comes alone (:class:`~tether.demo.faults.Expect`), and an optional cleanup
run once the client is READY again (undoing an outage, restoring ACKs...). Parameters that
vary (delays, sizes, split counts, the guild hit) are drawn from the run's RNG, so a seed
replays the same faults.

Left out on purpose: the fatal closes (4004, 4010-4014 stop the client by design and are
tested on their own), REST faults (``tether chaos`` exercises the gateway), the member
chunk faults (they need a member request, not a connection) and duplicated
MESSAGE_CREATEs (each copy has its own seq, so the client must hand both over: the
duplicate fault uses an unknown dispatch instead, and the ledger stays exact).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tether.demo.faults import UNKNOWN_EVENT, Expect, groups_of, select_kinds
from tether.emulator import Emulator, SessionState
from tether.emulator.faults import Faults

__all__ = [
    "CHAOS_GROUPS",
    "CHAOS_KINDS",
    "STORMS",
    "ChaosKind",
    "Strike",
    "invalidate_detached",
    "parse_chaos_faults",
]


@dataclass(slots=True)
class Strike:
    """One fault about to be injected: where, with which randomness, and what it chose.

    Attributes:
        emu: the emulator.
        rng: the run's seeded RNG (every random parameter comes from it).
        session_id: hit only this session's socket (None: every live socket).
        guild_ids: the world's guilds (for outages).
        chosen: what the injection chose (a guild id, a delay...), for its cleanup.
    """

    emu: Emulator
    rng: random.Random
    session_id: str | None
    guild_ids: list[int]
    chosen: dict[str, float | int] = field(default_factory=dict)

    @property
    def faults(self) -> Faults:
        """``emu.faults``."""
        return self.emu.faults


Inject = Callable[[Strike], Awaitable[int]]
Cleanup = Callable[[Strike], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ChaosKind:
    """One kind of fault of the chaos catalogue.

    ``delayed``: the client can only notice after a while (a missed heartbeat ACK), so the
    runner waits for the disconnect before checking that the client is READY.
    """

    name: str
    expect: Expect
    weight: float
    description: str
    inject: Inject
    cleanup: Cleanup | None = None
    delayed: bool = False


def invalidate_detached(emu: Emulator, session_id: str | None = None) -> int:
    """Invalidate resumable sessions that have no socket (all, or ``session_id``'s shard).

    Used with faults that tell the client its session is gone (op 9 ``false``, 4003/4007/4009)
    while the server side may still hold it detached, because the fault hit a socket that
    had not sent RESUME yet: Discord would have invalidated the session it refused.
    """
    shard = None
    if session_id is not None and session_id in emu.sessions:
        shard = emu.sessions[session_id].shard
    count = 0
    for sid, session in list(emu.sessions.items()):
        if session.state is SessionState.DETACHED and (shard is None or session.shard == shard):
            count += emu.faults.expire_session(sid)
    return count


# injections -------------------------------------------------------------------------------


def _close(code: int) -> Inject:
    async def inject(s: Strike) -> int:
        hit = s.faults.close(code, session_id=s.session_id, reason=f"chaos: close {code}")
        if code in (4003, 4007, 4009):
            invalidate_detached(s.emu, s.session_id)
        return hit

    return inject


async def _reconnect(s: Strike) -> int:
    return s.faults.reconnect(session_id=s.session_id)


async def _invalid_session(s: Strike) -> int:
    hit = s.faults.invalid_session(False, session_id=s.session_id)
    invalidate_detached(s.emu, s.session_id)
    return hit


async def _invalid_session_resumable(s: Strike) -> int:
    return s.faults.invalid_session(True, session_id=s.session_id)


async def _drop(s: Strike) -> int:
    return s.faults.drop(session_id=s.session_id)


async def _black_hole(s: Strike) -> int:
    return s.faults.black_hole(session_id=s.session_id)


async def _drop_acks(s: Strike) -> int:
    return s.faults.drop_acks(session_id=s.session_id)


async def _drop_one_ack(s: Strike) -> int:
    return s.faults.drop_acks(1, session_id=s.session_id)


async def _delay_acks(s: Strike) -> int:
    delay = round(s.rng.uniform(0.05, 0.4), 3)
    s.chosen["delay_s"] = delay
    return s.faults.delay_acks(delay, session_id=s.session_id)


async def _restore_acks(s: Strike) -> None:
    s.faults.restore_acks()


async def _request_heartbeat(s: Strike) -> int:
    return s.faults.request_heartbeat(session_id=s.session_id)


async def _corrupt_zlib(s: Strike) -> int:
    return s.faults.corrupt_zlib(session_id=s.session_id)


async def _malformed_json(s: Strike) -> int:
    return s.faults.malformed_frame(session_id=s.session_id)


async def _unknown_opcode(s: Strike) -> int:
    op = s.rng.choice([5, 12, 42, 99, 255])
    return s.faults.unknown_opcode(op, {"chaos": True}, session_id=s.session_id)


async def _unknown_dispatch(s: Strike) -> int:
    return await s.emu.dispatch(UNKNOWN_EVENT, {"chaos": "an event no client knows"}, raw=True)


async def _duplicate_dispatch(s: Strike) -> int:
    """The same dispatch delivered several times, each copy with its own seq (spec 14 E33)."""
    copies = s.rng.randint(2, 4)
    return await s.emu.dispatch(UNKNOWN_EVENT, {"chaos": "copies"}, copies=copies, raw=True)


async def _split(s: Strike) -> int:
    parts = s.rng.randint(2, 6)
    payloads = s.rng.randint(1, 3)
    mode = s.rng.choice(["messages", "frames"])
    return s.faults.split_next(parts, payloads=payloads, mode=mode, session_id=s.session_id)


async def _trickle(s: Strike) -> int:
    chunk = s.rng.choice([8, 16, 32, 64])
    payloads = s.rng.randint(1, 3)
    return s.faults.trickle_next(chunk, 0.001, payloads=payloads, session_id=s.session_id)


async def _oversized(s: Strike) -> int:
    size = s.rng.randint(1_100_000, 1_600_000)
    return s.faults.oversized(size, session_id=s.session_id)


async def _unknown_fields(s: Strike) -> int:
    return s.faults.unknown_fields(True, session_id=s.session_id)


async def _known_fields(s: Strike) -> None:
    s.faults.unknown_fields(False)


def _script_then(script: Callable[[random.Random], dict[str, Any]], then: Inject) -> Inject:
    """Script the next connection (spec 14 B11, D28), then make the client reconnect."""

    async def inject(s: Strike) -> int:
        s.emu.faults.next_connection(**script(s.rng))
        hit = await then(s)
        if hit == 0:
            s.emu.faults.clear_next_connection()
        return hit

    return inject


async def _clear_scripts(s: Strike) -> None:
    s.emu.faults.clear_next_connection()


async def _expire_session(s: Strike) -> int:
    """The socket drops and the session expires before the client is back (spec 14 G42)."""
    hit = s.faults.drop(session_id=s.session_id)
    invalidate_detached(s.emu, s.session_id)
    return hit


def _pick_guild(s: Strike) -> int:
    gid = s.rng.choice(s.guild_ids)
    s.chosen["guild_id"] = gid
    return gid


async def _guild_outage(s: Strike) -> int:
    """A live guild goes unavailable and comes back a moment later (spec 14 D26)."""
    gid = _pick_guild(s)
    hit = s.faults.guild_outage(gid, now=True)
    await asyncio.sleep(s.rng.uniform(0.02, 0.3))
    s.faults.guild_recover(gid)
    return hit


async def _guild_back(s: Strike) -> None:
    gid = s.chosen.get("guild_id")
    if gid is not None:
        s.faults.never_stream(int(gid), False)
        s.faults.guild_recover(int(gid))


async def _never_stream(s: Strike) -> int:
    """A re-identify whose guild stream leaves one guild out (spec 14 D27): Ready times out."""
    gid = _pick_guild(s)
    s.faults.never_stream(gid)
    hit = await _invalid_session(s)
    if hit == 0:
        s.faults.never_stream(gid, False)
    return hit


_R, _I, _H = Expect.RESUME, Expect.REIDENTIFY, Expect.HARMLESS

#: Every kind, with its weight in the random draw. Fast resumes weigh most; faults whose
#: recovery includes a detection time (zombies, a missing HELLO, a guild that never comes)
#: weigh least, so a long soak still injects thousands per hour.
CHAOS_KINDS: dict[str, ChaosKind] = {
    k.name: k
    for k in (
        ChaosKind("close_4000", _R, 3, "server closes with 4000", _close(4000)),
        ChaosKind("close_4001", _R, 1, "server closes with 4001", _close(4001)),
        ChaosKind("close_4002", _R, 1, "server closes with 4002", _close(4002)),
        ChaosKind("close_4005", _R, 1, "server closes with 4005", _close(4005)),
        ChaosKind("close_4006", _R, 1, "server closes with 4006 (unknown)", _close(4006)),
        ChaosKind("close_4008", _R, 1, "server closes with 4008", _close(4008)),
        ChaosKind("close_1000", _R, 1, "server closes with 1000", _close(1000)),
        ChaosKind("close_1001", _R, 1, "server closes with 1001", _close(1001)),
        ChaosKind("close_1011", _R, 1, "server closes with 1011", _close(1011)),
        ChaosKind("close_4003", _I, 0.5, "server closes with 4003", _close(4003)),
        ChaosKind("close_4007", _I, 0.5, "server closes with 4007", _close(4007)),
        ChaosKind("close_4009", _I, 0.5, "server closes with 4009", _close(4009)),
        ChaosKind("reconnect", _R, 3, "op 7 Reconnect", _reconnect),
        ChaosKind("invalid_session", _I, 1, "op 9 d:false", _invalid_session),
        ChaosKind("invalid_session_resumable", _R, 2, "op 9 d:true",
                  _invalid_session_resumable),
        ChaosKind("drop", _R, 3, "TCP cut without a close frame", _drop),
        ChaosKind("black_hole", _R, 0.4, "half-open: the server goes silent", _black_hole),
        ChaosKind("drop_acks", _R, 0.3, "every heartbeat ACK dropped", _drop_acks,
                  delayed=True),
        ChaosKind("drop_one_ack", _R, 0.3, "one heartbeat ACK dropped", _drop_one_ack,
                  delayed=True),
        ChaosKind("delay_acks", _H, 1, "heartbeat ACKs late (< the ACK timeout)",
                  _delay_acks, _restore_acks),
        ChaosKind("request_heartbeat", _H, 2, "op 1: heartbeat now", _request_heartbeat),
        ChaosKind("corrupt_zlib", _R, 2, "compressed bytes no inflater accepts",
                  _corrupt_zlib),
        ChaosKind("malformed_json", _R, 2, "a payload that is not JSON", _malformed_json),
        ChaosKind("unknown_opcode", _H, 2, "an envelope with an unknown opcode",
                  _unknown_opcode),
        ChaosKind("unknown_dispatch", _H, 1, "a dispatch no client knows", _unknown_dispatch),
        ChaosKind("duplicate_dispatch", _H, 0.5, "one dispatch delivered 2-4 times",
                  _duplicate_dispatch),
        ChaosKind("split_frames", _H, 2, "payloads split over messages or frames", _split),
        ChaosKind("trickle", _H, 1, "payloads written a few bytes per ms", _trickle),
        ChaosKind("oversized", _H, 0.5, "a dispatch over 1 MiB", _oversized),
        ChaosKind("unknown_fields", _H, 1, "unknown keys in every envelope",
                  _unknown_fields, _known_fields),
        ChaosKind("slow_hello", _R, 1, "drop; the next HELLO comes late",
                  _script_then(lambda r: {"hello_delay_s": r.uniform(0.05, 0.5)}, _drop),
                  _clear_scripts),
        ChaosKind("no_hello", _R, 0.2, "drop; the next socket never gets HELLO",
                  _script_then(lambda _r: {"no_hello": True}, _drop), _clear_scripts),
        ChaosKind("reconnect_before_hello", _R, 1, "drop; the next socket gets op 7 first",
                  _script_then(lambda _r: {"reconnect_instead_of_hello": True}, _drop),
                  _clear_scripts),
        ChaosKind("delayed_ready", _I, 0.5, "op 9 d:false; the next READY comes late",
                  _script_then(lambda r: {"ready_delay_s": r.uniform(0.05, 0.6)},
                               _invalid_session),
                  _clear_scripts),
        ChaosKind("expire_session", _I, 0.5, "drop; the session expires meanwhile",
                  _expire_session),
        ChaosKind("guild_outage", _H, 1, "a guild goes unavailable, then recovers",
                  _guild_outage, _guild_back),
        ChaosKind("guild_never_streamed", _I, 0.2, "re-identify; one guild never streamed",
                  _never_stream, _guild_back),
    )
}  # fmt: skip

#: Storms: several faults in a short burst, each possibly mid-recovery from the previous.
#: name -> the kinds it draws from (empty: the whole enabled catalogue).
STORMS: dict[str, tuple[str, ...]] = {
    "mixed_storm": (),
    "reconnect_storm": ("reconnect",),
    "invalid_session_storm": ("invalid_session", "invalid_session_resumable"),
}

CHAOS_GROUPS: dict[str, tuple[str, ...]] = groups_of(CHAOS_KINDS)


def parse_chaos_faults(text: str) -> tuple[str, ...]:
    """The kinds named by ``tether chaos --faults`` (see :func:`~tether.demo.faults.select_kinds`).

    Raises:
        ValueError: an unknown name, or no kind at all (the message lists the valid ones).
    """
    kinds = select_kinds(text, CHAOS_KINDS, CHAOS_GROUPS)
    if not kinds:
        raise ValueError("no fault kind selected")
    return kinds
