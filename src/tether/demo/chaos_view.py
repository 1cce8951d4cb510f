"""The chaos runner's view of the client process: its events, state, samples and report.

:class:`ChildClient` starts ``python -m tether.demo.chaos_client`` and feeds every line it
prints to a :class:`ClientView`, which keeps what the checks need: per shard whether the
client is READY (from its lifecycle events, in the order handlers saw them), the session
it holds, the markers that reached it, the deliberate waits it reported, resource samples,
and the messages (into the :class:`~tether.demo.ledger.Ledger`, with an order check).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.demo.ledger import Ledger, LossWindow

__all__ = ["MMAP_THRESHOLD", "ChildClient", "ClientView", "Sample"]

_STDERR_KEPT = 200
_EXAMPLES = 20

#: glibc's threshold above which an allocation gets its own mapping, pinned for the client
#: process (see ChildClient).
MMAP_THRESHOLD = 128 * 1024


@dataclass(frozen=True, slots=True)
class Sample:
    """One resource sample of the client process (None: not measurable here)."""

    t: float
    rss: int | None
    tasks: int
    threads: int
    fds: int | None
    blocks: int


class ClientView:
    """What the client process reported so far.

    Args:
        shard_ids: the shards the client runs (``[0]`` unsharded).
        ledger: receives every message and every ``SessionLost`` window.
        serials: message id -> traffic serial (filled by the runner as it sends).
    """

    def __init__(self, shard_ids: list[int], ledger: Ledger, serials: dict[int, int]) -> None:
        self.shard_ids = shard_ids
        self.ledger = ledger
        self.serials = serials
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.counts: Counter[str] = Counter()
        self.ready = dict.fromkeys(shard_ids, False)
        self.session: dict[int, str | None] = dict.fromkeys(shard_ids)
        self.marks: dict[int, int] = {}
        self.waits: list[tuple[float, float, str]] = []
        self.samples: list[Sample] = []
        self.final: dict[str, Any] | None = None
        self.started = False
        self.out_of_order: list[int] = []
        self._last_serial: dict[int, int] = {}
        self.changed = asyncio.Event()

    @property
    def all_ready(self) -> bool:
        """Every shard is READY (as far as the events handled so far tell)."""
        return all(self.ready.values())

    def feed(self, item: dict[str, Any]) -> None:
        """Take one line of the client process."""
        kind = item.get("k")
        if kind == "m":
            self._message(int(item["s"]), int(item["id"]))
        elif kind == "e":
            self._event(item)
        elif kind == "mark":
            shard, serial = int(item["s"]), int(item["n"])
            self.marks[shard] = max(serial, self.marks.get(shard, -1))
        elif kind == "w":
            self.waits.append((float(item["t0"]), float(item["t1"]), str(item["why"])))
        elif kind == "p":
            self.samples.append(
                Sample(
                    float(item["t"]),
                    item.get("rss"),
                    int(item["tasks"]),
                    int(item["threads"]),
                    item.get("fds"),
                    int(item.get("blocks") or 0),
                )
            )
        elif kind == "ready":
            self.started = True
        elif kind == "final":
            self.final = item
        self.changed.set()

    def _message(self, shard: int, message_id: int) -> None:
        first = message_id not in self.ledger.received
        self.ledger.record_received(message_id)
        serial = self.serials.get(message_id)
        if not first or serial is None:
            return
        if serial < self._last_serial.get(shard, 0):
            if len(self.out_of_order) < _EXAMPLES:
                self.out_of_order.append(message_id)
            else:
                self.out_of_order.append(0)
        self._last_serial[shard] = max(serial, self._last_serial.get(shard, 0))

    def _event(self, item: dict[str, Any]) -> None:
        name = str(item["e"])
        t = float(item["t"])
        shard = int(item.get("shard_id") or 0)
        self.events.append((t, name, item))
        self.counts[name] += 1
        if name == "Connected":
            self.session[shard] = item.get("session_id")
            if not item.get("resumed"):
                self.ready[shard] = False
        elif name in ("Ready", "Resumed"):
            self.ready[shard] = True
        elif name == "Disconnected":
            self.ready[shard] = False
        elif name == "SessionLost":
            self.ledger.record_window(
                LossWindow(
                    str(item["old_session_id"]),
                    int(item["last_seq"]),
                    float(item["since"]),
                    float(item["until"]),
                )
            )

    def has_marks(self, serial: int, shards: list[int]) -> bool:
        """Whether marker ``serial`` reached every shard in ``shards``."""
        return all(self.marks.get(s, -1) >= serial for s in shards)

    def new_session_since(self, index: int) -> bool:
        """Whether a new session (``Connected`` without ``resumed``) was reported at or after
        event ``index``."""
        return any(
            name == "Connected" and not item.get("resumed")
            for _t, name, item in self.events[index:]
        )

    def resumed_at(self) -> dict[str, list[float]]:
        """Per session id, when the client reported ``Resumed``."""
        found: dict[str, list[float]] = {}
        for t, name, item in self.events:
            if name == "Resumed":
                found.setdefault(str(item.get("session_id")), []).append(t)
        return found

    def count(self, name: str, check: Callable[[dict[str, Any]], bool] | None = None) -> int:
        """Lifecycle events of class ``name`` (matching ``check``)."""
        if check is None:
            return self.counts[name]
        return sum(1 for _t, n, item in self.events if n == name and check(item))

    async def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds (re-checked after each line); False on timeout."""
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                while not predicate():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return predicate()
        return True


class ChildClient:
    """The client process: started with its settings, fed into ``view``, stopped on request.

    With ``pin_malloc``, glibc's mmap threshold is pinned at 128 KiB in the process
    (``MALLOC_MMAP_THRESHOLD_``). glibc otherwise raises it to the size of the largest
    mapped block freed so far, so after one >1 MiB payload, later ones are carved from the
    heap and their pages kept: RSS then climbs in steps to a high-water mark that says how
    big payloads were, not whether memory leaks. Pinned, RSS follows live memory.

    Args:
        settings: the JSON settings line (token included: it goes through stdin).
        view: receives every line.
        secrets: strings that must never appear on its stderr either.
        pin_malloc: pin glibc's mmap threshold (see above).
    """

    def __init__(
        self,
        settings: dict[str, Any],
        view: ClientView,
        secrets: list[str],
        *,
        pin_malloc: bool = True,
    ) -> None:
        self.settings = settings
        self.pin_malloc = pin_malloc
        self.view = view
        self.secrets = [s for s in secrets if len(s) >= 8]
        self.stderr_tail: deque[str] = deque(maxlen=_STDERR_KEPT)
        self.stderr_token_hits = 0
        self.bad_lines = 0
        self.returncode: int | None = None
        self.pid: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the process and its readers (without waiting for the client)."""
        env = dict(os.environ)
        if self.pin_malloc:
            env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
        proc = self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tether.demo.chaos_client",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 20,
            env=env,
        )
        self.pid = proc.pid
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdin.write(json.dumps(self.settings).encode() + b"\n")
        await proc.stdin.drain()
        self._tasks = [
            asyncio.create_task(self._read_stdout(proc.stdout), name="chaos client stdout"),
            asyncio.create_task(self._read_stderr(proc.stderr), name="chaos client stderr"),
        ]

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            try:
                item = json.loads(line)
            except ValueError:
                self.bad_lines += 1
                continue
            if isinstance(item, dict):
                self.view.feed(item)
        self.view.changed.set()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            if any(secret in line for secret in self.secrets):
                self.stderr_token_hits += 1
                line = "<a line holding the token, withheld>"
            self.stderr_tail.append(line)

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self._proc is not None and self._proc.returncode is None

    @property
    def exit_status(self) -> int | None:
        """The process's exit status once it ended (None while it runs)."""
        return None if self._proc is None else self._proc.returncode

    async def stop(self, timeout: float) -> None:
        """Ask for ``stop``, wait for the final report and the exit (kill after ``timeout``)."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                proc.stdin.write(b"stop\n")
                await proc.stdin.drain()
                proc.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.returncode = proc.returncode
