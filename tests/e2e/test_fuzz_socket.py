"""Protocol fuzzing through the emulator to the real client (``emu.faults.send_raw``).

Hypothesis draws frames (arbitrary envelopes, mutated real frames, text and binary
garbage, frames in the wrong encoding, big payloads) and the emulator writes them to the
socket of a running ``tether.Client``. After each example the client must be READY again
with a marker dispatched afterwards delivered (it ignored the frames, or closed and
resumed or re-identified), no exception may have escaped to an event loop or been logged
as an error, and no close may have been fatal.

The emulator and the client run on a loop of their own in a thread (as in
tests/runtime/test_blocking_handlers.py), so hypothesis drives a plain function.

Dispatch frames are sent with ``s`` null or not above 0: a dispatch whose seq is ahead of
the session is indistinguishable from a real one, the client rightly takes it, and the
server's next real event with that seq is then a replay to drop; the pure fuzzers in
tests/gateway cover seqs. READY and RESUMED are left out for the same reason (a READY on
an established socket starts a new session by design; see test_chaos_findings.py).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tether
from tether.emulator import Emulator, EmulatorConfig

T = TypeVar("T")
MARK = "TETHER_FUZZ_MARK"
MAX_PAYLOAD = 4 << 20
SETTLE_S = 15.0


@dataclass(frozen=True)
class Frame:
    """One thing to write to the socket: a payload and how (see ``Faults.send_raw``)."""

    payload: bytes | str
    binary: bool | None = None
    encode: bool = True

    def __repr__(self) -> str:
        more = "..." if len(self.payload) > 80 else ""
        return (
            f"Frame({self.payload[:80]!r}{more}, binary={self.binary}, "
            f"encode={self.encode}, size={len(self.payload)})"
        )


class ErrorLog(logging.Handler):
    """Keeps ERROR records of tether and asyncio (from any thread)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("tether", "asyncio")):
            self.records.append(f"{record.name}: {record.getMessage()}")


class Harness:
    """An emulator and a ready client on a loop in a thread; markers to check delivery."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test fuzz harness")
        self.loop_errors: list[str] = []
        self.loop.set_exception_handler(
            lambda _loop, ctx: self.loop_errors.append(str(ctx.get("message")))
        )
        self.events: list[tether.Event] = []
        self.marks: set[int] = set()
        self.changed: asyncio.Event | None = None
        self.errors = ErrorLog()
        self._serial = 0

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        self.changed = asyncio.Event()
        config = EmulatorConfig(
            heartbeat_interval_ms=500,
            identify_window_s=0.2,
            session_start_total=100_000,
            session_start_remaining=100_000,
        )
        self.emu = Emulator(guilds=2, seed=11, config=config)
        await self.emu.start()
        self.client = tether.Client(
            self.emu.token,
            api_url=self.emu.api_url,
            intents=tether.Intents.default() | tether.Intents.MESSAGE_CONTENT,
            max_payload=MAX_PAYLOAD,
            guild_ready_timeout=1.0,
            hello_timeout=2.0,
            reconnect_base=0.05,
            stable_after=0.0,
            identify_window=0.2,
            invalid_session_wait=(0.01, 0.05),
            rng=random.Random(11),
        )
        self.client.on(tether.Event)(self._event)
        self.client.on(MARK)(self._mark)
        await self.client.start()
        await self.client.wait_until_ready(timeout=10)

    async def stop(self) -> None:
        await self.client.stop(timeout=10)
        await self.emu.stop()

    def _event(self, event: tether.Event) -> None:
        if not isinstance(event, tether.Dispatch):
            self.events.append(event)
        assert self.changed is not None
        self.changed.set()

    def _mark(self, event: tether.Dispatch) -> None:
        if isinstance(event.data, dict) and isinstance(event.data.get("mark"), int):
            self.marks.add(event.data["mark"])

    async def _until(self, predicate: Any, timeout: float) -> bool:
        assert self.changed is not None
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return bool(predicate())
        return True

    async def send_and_settle(self, frames: list[Frame]) -> str | None:
        """Write ``frames``; return None once the client is READY with a fresh marker
        delivered, or what went wrong."""
        start = len(self.events)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        for frame in frames:
            self.emu.faults.send_raw(frame.payload, binary=frame.binary, encode=frame.encode)
            await asyncio.sleep(0)
        while loop.time() < deadline:
            try:
                await self.client.wait_until_ready(timeout=max(0.01, deadline - loop.time()))
            except TimeoutError:
                break
            self._serial += 1
            serial, index = self._serial, len(self.events)
            await self.emu.dispatch(MARK, {"mark": serial}, raw=True)

            def arrived(serial: int = serial, index: int = index) -> bool:
                return serial in self.marks or any(
                    isinstance(e, tether.Connected) and not e.resumed for e in self.events[index:]
                )

            await self._until(arrived, deadline - loop.time())
            if serial in self.marks and self.client.state is tether.ShardState.READY:
                return self._problems(start)
        return f"not READY with a marker delivered within {SETTLE_S:g} s ({self.client.state})"

    def _problems(self, start: int) -> str | None:
        if self.client.error is not None:
            return f"the client stopped: {self.client.error!r}"
        for event in self.events[start:]:
            if isinstance(event, tether.Disconnected) and not event.will_reconnect:
                return f"a close that ends the client: {event}"
        if self.loop_errors:
            return f"exceptions reached the loop: {self.loop_errors}"
        if self.errors.records:
            return f"errors logged: {self.errors.records[:3]}"
        return None


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = Harness()
    logging.getLogger().addHandler(h.errors)
    h.thread.start()
    try:
        h.run(h.start())
        yield h
        h.run(h.stop())
    finally:
        logging.getLogger().removeHandler(h.errors)
        h.loop.call_soon_threadsafe(h.loop.stop)
        h.thread.join()
        h.loop.close()
    assert h.errors.records == [], h.errors.records[:5]


# ---------------------------------------------------------------------------- strategies

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
NAMES = ["GUILD_CREATE", "GUILD_DELETE", "MESSAGE_CREATE", "TYPING_START", "FUZZ_EVENT", ""]
safe_seq = st.none() | st.integers(-(2**40), 0)

envelopes = st.fixed_dictionaries(
    {"op": st.sampled_from([0, 1, 7, 9, 10, 11, 99, 5, -1]) | st.integers(-(2**65), 2**65)},
    optional={
        "d": json_values,
        "s": safe_seq,
        "t": st.none() | st.sampled_from(NAMES) | st.integers() | st.text(max_size=8),
    },
)

CORPUS: list[dict[str, Any]] = [
    {"op": 10, "d": {"heartbeat_interval": 500, "_trace": ["x"]}, "s": None, "t": None},
    {"op": 11, "d": None, "s": None, "t": None},
    {"op": 1, "d": None, "s": None, "t": None},
    {"op": 7, "d": None, "s": None, "t": None},
    {"op": 9, "d": True, "s": None, "t": None},
    {"op": 0, "t": "GUILD_CREATE", "s": None,
     "d": {"id": "1", "name": "g", "unavailable": False, "channels": [], "members": []}},
    {"op": 0, "t": "GUILD_DELETE", "s": None, "d": {"id": "1", "unavailable": True}},
    {"op": 0, "t": "MESSAGE_CREATE", "s": None,
     "d": {"id": "5", "channel_id": "6", "content": "hi", "author": {"id": "7"}}},
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A real frame with one or two fields retyped, removed or added (``s`` kept safe)."""
    frame = copy.deepcopy(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 2))):
        target = frame
        keys = list(target)
        if isinstance(frame.get("d"), dict) and draw(st.booleans()):
            target = frame["d"]
            keys = list(target)
        if keys and draw(st.booleans()):
            key = draw(st.sampled_from(keys))
            if draw(st.booleans()):
                target[key] = draw(json_values)
            else:
                del target[key]
        else:
            target[draw(st.text(max_size=6))] = draw(json_values)
    if frame.get("t") in ("READY", "RESUMED"):
        frame["t"] = "FUZZ_EVENT"
    frame["s"] = draw(safe_seq)  # see the module docstring
    return frame


def _big(mib: int) -> Frame:
    return Frame(
        json.dumps({"op": 0, "t": "FUZZ_BIG", "s": None, "d": {"blob": "z" * (mib << 20)}})
    )


frames = st.one_of(
    envelopes.map(lambda e: Frame(json.dumps(e))),
    mutated().map(lambda e: Frame(json.dumps(e))),
    json_values.map(lambda v: Frame(json.dumps(v))),
    st.text(max_size=60).map(Frame),
    st.binary(max_size=60).map(lambda b: Frame(b, binary=True, encode=False)),  # corrupt zlib
    envelopes.map(lambda e: Frame(json.dumps(e), binary=False, encode=False)),  # text frame
    st.integers(1, 3).map(_big),  # 1-3 MiB: more than many clients accept
)


# ---------------------------------------------------------------------------- tests


def test_arbitrary_frames_through_the_socket(harness: Harness) -> None:
    """Spec 2.1 receiver rules end to end: ignore with a log line, or close and recover."""

    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(sent=st.lists(frames, min_size=1, max_size=4))
    def check(sent: list[Frame]) -> None:
        problem = harness.run(harness.send_and_settle(sent))
        assert problem is None, problem

    check()
    import sys

    print(
        "STATS",
        len(harness.events),
        sum(isinstance(e, tether.Disconnected) for e in harness.events),
        harness._serial,
        file=sys.stderr,
    )


@pytest.mark.parametrize(
    "frame",
    [
        # a decompression bomb: 48 MiB of JSON, a few tens of KB compressed
        Frame(json.dumps({"op": 0, "t": "FUZZ_BOMB", "s": None, "d": "a" * (48 << 20)})),
        # a text frame over max_payload (the transport refuses it)
        Frame("{" + " " * (MAX_PAYLOAD + 10) + "}", binary=False, encode=False),
        # a compressed message over max_payload that never ends a payload
        Frame(bytes(range(256)) * ((MAX_PAYLOAD // 256) + 64), binary=True, encode=False),
    ],
    ids=["zlib_bomb", "text_over_max_payload", "binary_over_max_payload"],
)
def test_payloads_over_the_limit_close_and_resume(harness: Harness, frame: Frame) -> None:
    """Spec 7.4 / 6.4: refused early (bounded memory), then the session is resumed."""
    before = len(harness.events)
    problem = harness.run(harness.send_and_settle([frame]))
    assert problem is None, problem
    after = harness.events[before:]
    assert any(isinstance(e, tether.Disconnected) for e in after)
    assert any(isinstance(e, tether.Resumed) for e in after)
