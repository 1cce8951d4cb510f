"""The demo's fault catalogue: every kind it can inject, what recovery it expects, and the order.

Each kind names one behaviour of the emulator's fault API (``emu.faults``) and the recovery a
correct client must show: ``resume`` (the session continues, nothing is lost), ``reidentify``
(the session is gone; the gap must be reported by a ``SessionLost``) or ``harmless`` (the
connection must simply survive it).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from tether.emulator import Emulator

__all__ = [
    "ALL_KINDS",
    "GROUPS",
    "KINDS",
    "MARK_EVENT",
    "UNKNOWN_EVENT",
    "Expect",
    "FaultKind",
    "groups_of",
    "parse_fault_list",
    "select_kinds",
]

#: The dispatch name of the demo's marker events (sent after harmless faults).
MARK_EVENT = "TETHER_DEMO_MARK"
#: The dispatch name of the "unknown dispatch" fault.
UNKNOWN_EVENT = "TETHER_DEMO_UNKNOWN_EVENT"


class Expect(enum.Enum):
    """The recovery a correct client shows after a fault."""

    RESUME = "resume"
    REIDENTIFY = "reidentify"
    HARMLESS = "harmless"


Inject = Callable[[Emulator], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class FaultKind:
    """One kind of fault: its name on the command line, what it does, and what must follow."""

    name: str
    expect: Expect
    description: str
    inject: Inject


def _close(code: int) -> Inject:
    async def inject(emu: Emulator) -> int:
        return emu.faults.close(code, reason=f"demo fault: close {code}")

    return inject


async def _reconnect(emu: Emulator) -> int:
    return emu.faults.reconnect()


async def _invalid_session_resumable(emu: Emulator) -> int:
    return emu.faults.invalid_session(True)


async def _invalid_session(emu: Emulator) -> int:
    return emu.faults.invalid_session(False)


async def _drop(emu: Emulator) -> int:
    return emu.faults.drop()


async def _black_hole(emu: Emulator) -> int:
    return emu.faults.black_hole()


async def _drop_acks(emu: Emulator) -> int:
    return emu.faults.drop_acks()


async def _corrupt_zlib(emu: Emulator) -> int:
    return emu.faults.corrupt_zlib()


async def _malformed_json(emu: Emulator) -> int:
    return emu.faults.malformed_frame()


async def _unknown_opcode(emu: Emulator) -> int:
    return emu.faults.unknown_opcode(99, {"demo": True})


async def _unknown_dispatch(emu: Emulator) -> int:
    return await emu.dispatch(UNKNOWN_EVENT, {"demo": "an event no client knows"}, raw=True)


async def _request_heartbeat(emu: Emulator) -> int:
    return emu.faults.request_heartbeat()


_R, _I, _H = Expect.RESUME, Expect.REIDENTIFY, Expect.HARMLESS

#: Every kind, in the order the demo cycles through them: re-identifying faults are spread
#: out (the identify window is 5 s) and one comes early, so short runs show both paths.
KINDS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind("close_4000", _R, "server closes with 4000 (unknown error)", _close(4000)),
        FaultKind("invalid_session", _I, "op 9 with d: false (session invalidated)",
                  _invalid_session),
        FaultKind("reconnect", _R, "op 7: the server asks for a reconnect", _reconnect),
        FaultKind("drop", _R, "the TCP connection is cut without a close frame", _drop),
        FaultKind("unknown_opcode", _H, "an envelope with opcode 99", _unknown_opcode),
        FaultKind("black_hole", _R, "zombie: the server goes silent, TCP stays open",
                  _black_hole),
        FaultKind("close_4001", _R, "server closes with 4001 (unknown opcode)", _close(4001)),
        FaultKind("corrupt_zlib", _R, "bytes no zlib inflater accepts", _corrupt_zlib),
        FaultKind("close_4009", _I, "server closes with 4009 (session timed out)",
                  _close(4009)),
        FaultKind("invalid_session_resumable", _R, "op 9 with d: true",
                  _invalid_session_resumable),
        FaultKind("request_heartbeat", _H, "op 1: the server asks for a heartbeat now",
                  _request_heartbeat),
        FaultKind("close_4002", _R, "server closes with 4002 (decode error)", _close(4002)),
        FaultKind("malformed_json", _R, "a frame that is not valid JSON", _malformed_json),
        FaultKind("drop_acks", _R, "heartbeat ACKs stop while dispatches keep flowing",
                  _drop_acks),
        FaultKind("close_4003", _I, "server closes with 4003 (not authenticated)",
                  _close(4003)),
        FaultKind("close_1000", _R, "server closes with 1000 (normal closure)", _close(1000)),
        FaultKind("unknown_dispatch", _H, f"a dispatch named {UNKNOWN_EVENT}",
                  _unknown_dispatch),
        FaultKind("close_4005", _R, "server closes with 4005 (already authenticated)",
                  _close(4005)),
        FaultKind("close_1001", _R, "server closes with 1001 (going away)", _close(1001)),
        FaultKind("close_4007", _I, "server closes with 4007 (invalid seq)", _close(4007)),
        FaultKind("close_4008", _R, "server closes with 4008 (rate limited)", _close(4008)),
    )
}  # fmt: skip

ALL_KINDS: tuple[str, ...] = tuple(KINDS)


class _Expecting(Protocol):
    @property
    def expect(self) -> Expect: ...


def groups_of(kinds: Mapping[str, _Expecting]) -> dict[str, tuple[str, ...]]:
    """The group names of a catalogue (``all``, ``resumable``, ``reidentify``, ``harmless``,
    ``close``), each standing for its kinds in catalogue order."""
    return {
        "all": tuple(kinds),
        "resumable": tuple(k for k, v in kinds.items() if v.expect is Expect.RESUME),
        "reidentify": tuple(k for k, v in kinds.items() if v.expect is Expect.REIDENTIFY),
        "harmless": tuple(k for k, v in kinds.items() if v.expect is Expect.HARMLESS),
        "close": tuple(k for k in kinds if k.startswith("close_")),
    }


def select_kinds(
    text: str, kinds: Mapping[str, object], groups: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The kinds of ``kinds`` named by ``text`` (comma-separated kinds, groups, or close codes
    such as ``4009`` for ``close_4009``), in catalogue order; may be empty.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    wanted: set[str] = set()
    for raw in text.split(","):
        name = raw.strip().lower().replace("-", "_")
        if not name:
            continue
        if name in groups:
            wanted.update(groups[name])
        elif name in kinds:
            wanted.add(name)
        elif name.isdigit() and f"close_{name}" in kinds:
            wanted.add(f"close_{name}")
        else:
            valid = ", ".join([*groups, *kinds])
            raise ValueError(f"unknown fault kind {raw.strip()!r}; valid: {valid}")
    return tuple(k for k in kinds if k in wanted)


#: Names that stand for several kinds in ``--faults``.
GROUPS: dict[str, tuple[str, ...]] = {**groups_of(KINDS), "none": ()}


def parse_fault_list(text: str) -> tuple[str, ...]:
    """The kinds named by ``tether demo --faults`` (see :func:`select_kinds`).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    return select_kinds(text, KINDS, GROUPS)
