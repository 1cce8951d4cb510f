"""The client side of ``tether chaos``: one ``tether.Client`` in a process of its own.

The chaos runner starts ``python -m tether.demo.chaos_client``, writes one JSON line of
settings to its stdin (the token travels there, never on a command line) and reads one JSON
line per happening from its stdout:

- ``{"k": "m", "t", "s", "id"}``: a MESSAGE_CREATE reached its handler (shard ``s``);
- ``{"k": "e", "t", "s", "e": class name, ...fields}``: a lifecycle event;
- ``{"k": "mark", "t", "s", "n"}``: a marker dispatch reached its handler;
- ``{"k": "w", "t0", "t1", "why"}``: a deliberate wait (reconnect backoff, op 9 wait,
  identify pacing) between the two loop times;
- ``{"k": "p", "t", "rss", "tasks", "threads", "fds", "blocks"}``: a sample, once a
  second (``blocks``: ``sys.getallocatedblocks()``, Python objects alive);
- ``{"k": "ready"}`` once started; ``{"k": "final", ...}`` after ``stop`` (see
  :func:`_final`), then the process exits.

It runs in its own process so that what it measures (RSS, tasks, threads, file descriptors,
log records) is the client's alone: the emulator, the traffic and the ledger live in the
runner. Every log record, at DEBUG, is scanned for the token as it is emitted (none kept).
Times are ``loop.time()``, i.e. ``time.monotonic()``, the same clock in both processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sys
import threading
import time
from typing import IO, Any

from tether.bot import Client
from tether.demo.faults import MARK_EVENT
from tether.gateway.events import Dispatch, Event
from tether.runtime.identify import LocalIdentifyQueue
from tether.wire.intents import Intents

__all__ = ["main"]

_BACKOFF_MESSAGE = "shard %d: reconnecting in %.2f s (attempt %d)"
_EXAMPLES = 5


class Out:
    """One JSON object per line on stdout, flushed at once (the runner reads as it goes)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()  # the I/O thread's log records are written too

    def send(self, **fields: Any) -> None:
        line = json.dumps(fields, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


class LogScan(logging.Handler):
    """Counts every log record, scans it for the token, reports backoff waits and errors."""

    def __init__(self, secrets: list[str], out: Out) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = [s for s in secrets if len(s) >= 8]
        self.out = out
        self.records = 0
        self.token_hits: list[str] = []
        self.errors: list[str] = []
        self.asyncio_errors = 0
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        text = self.format(record)
        if any(secret in text for secret in self.secrets):
            if len(self.token_hits) < _EXAMPLES:
                self.token_hits.append(f"{record.name}: {record.msg!s}"[:200])
            else:
                self.token_hits.append("")
        if record.levelno >= logging.ERROR:
            if record.name.startswith("asyncio"):
                self.asyncio_errors += 1
            self.errors.append(text[:500])
        args = record.args
        if record.msg == _BACKOFF_MESSAGE and isinstance(args, tuple) and len(args) == 3:
            delay = args[1]
            if isinstance(delay, (int, float)):
                now = time.monotonic()
                self.out.send(k="w", t0=now, t1=now + delay, why="backoff")


class TimedIdentifyQueue:
    """The local identify pacing, reporting how long each shard waited for its turn."""

    def __init__(self, inner: LocalIdentifyQueue, out: Out) -> None:
        self._inner = inner
        self._out = out

    async def acquire(self, shard_id: int) -> None:
        started = time.monotonic()
        await self._inner.acquire(shard_id)
        ended = time.monotonic()
        if ended - started > 0.001:
            self._out.send(k="w", t0=started, t1=ended, why="identify")

    def identified(self, shard_id: int, now: float) -> None:
        self._inner.identified(shard_id, now)

    def release(self, shard_id: int) -> None:
        self._inner.release(shard_id)


def _event_fields(event: Event) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in getattr(event, "__dataclass_fields__", {}):
        value = getattr(event, name)
        if isinstance(value, (str, int, float, bool)) or value is None:
            fields[name] = value
    return fields


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _fd_count() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _tether_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("tether")]


def _build(settings: dict[str, Any], out: Out) -> Client:
    window = float(settings["identify_window"])
    low, high = settings["invalid_session_wait"]
    shards = settings.get("shards")
    return Client(
        settings["token"],
        api_url=settings["api_url"],
        intents=Intents.default() | Intents.MESSAGE_CONTENT,
        shards=shards if shards and shards > 1 else None,
        compress=settings.get("compress", "zlib-stream"),
        guild_ready_timeout=float(settings["guild_ready_timeout"]),
        hello_timeout=float(settings["hello_timeout"]),
        connect_timeout=5.0,
        reconnect_base=float(settings["reconnect_base"]),
        reconnect_cap=float(settings["reconnect_cap"]),
        stable_after=float(settings["stable_after"]),
        identify_window=window,
        invalid_session_wait=(float(low), float(high)),
        identify_queue=TimedIdentifyQueue(LocalIdentifyQueue(window=window), out),
        rng=random.Random(int(settings["seed"])),
    )


def _wire(client: Client, out: Out, loop: asyncio.AbstractEventLoop) -> None:
    def message(event: Dispatch) -> None:
        data = event.data
        if isinstance(data, dict) and "id" in data:
            out.send(k="m", t=loop.time(), s=event.shard_id, id=int(data["id"]))

    def mark(event: Dispatch) -> None:
        data = event.data
        if isinstance(data, dict) and isinstance(data.get("mark"), int):
            out.send(k="mark", t=loop.time(), s=event.shard_id, n=data["mark"])

    def lifecycle(event: Event) -> None:
        if not isinstance(event, Dispatch):
            out.send(k="e", t=loop.time(), e=type(event).__name__, **_event_fields(event))

    client.on("MESSAGE_CREATE")(message)
    client.on(MARK_EVENT)(mark)
    client.on(Event)(lifecycle)


async def _sample(out: Out, loop: asyncio.AbstractEventLoop) -> None:
    while True:
        out.send(
            k="p",
            t=loop.time(),
            rss=_rss_bytes(),
            tasks=len(asyncio.all_tasks(loop)),
            threads=threading.active_count(),
            fds=_fd_count(),
            blocks=sys.getallocatedblocks(),
        )
        await asyncio.sleep(1.0)


async def _final(client: Client, scan: LogScan, loop_errors: list[str]) -> dict[str, Any]:
    """Stop the client and report what is left of it."""
    state = client.state.value
    held = {str(sid): status.session_id for sid, status in client.shards.items()}
    error = repr(client.error) if client.error is not None else None
    started = time.monotonic()
    stopped_cleanly = True
    try:
        await client.stop(timeout=10.0)
    except Exception as exc:  # reported, and the run fails on it
        stopped_cleanly = False
        error = error or repr(exc)
    stop_s = time.monotonic() - started
    await asyncio.sleep(0.05)  # let cancelled callbacks run before counting
    me = asyncio.current_task()
    alive = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    leaked = [t.get_name() for t in alive if t.get_name().startswith("tether")]
    threads = _tether_threads()
    return {
        "k": "final",
        "state_before_stop": state,
        "state_after_stop": client.state.value,
        "held_sessions": held,
        "error": error,
        "stopped_cleanly": stopped_cleanly and client.state.value == "stopped",
        "stop_s": round(stop_s, 4),
        "leaked_tasks": leaked,
        "leaked_threads": threads,
        "tasks_alive": len(alive),
        "log_records": scan.records,
        "token_hits": len(scan.token_hits),
        "token_examples": [h for h in scan.token_hits if h][:_EXAMPLES],
        "errors_logged": len(scan.errors),
        "error_examples": scan.errors[:_EXAMPLES],
        "asyncio_errors": scan.asyncio_errors + len(loop_errors),
        "loop_exceptions": loop_errors[:_EXAMPLES],
        "rss": _rss_bytes(),
        "fds": _fd_count(),
    }


async def _run(settings: dict[str, Any], out: Out) -> None:
    loop = asyncio.get_running_loop()
    token = str(settings["token"])
    scan = LogScan([token, token.rsplit(".", 1)[-1]], out)
    root = logging.getLogger()
    root.addHandler(scan)
    root.setLevel(logging.DEBUG)
    loop_errors: list[str] = []

    def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        loop_errors.append(str(context.get("message") or context.get("exception"))[:300])
        loop.default_exception_handler(context)

    loop.set_exception_handler(on_loop_error)
    client = _build(settings, out)
    _wire(client, out, loop)
    sampler = asyncio.create_task(_sample(out, loop), name="chaos sampler")
    await client.start()
    out.send(k="ready", t=loop.time(), pid=os.getpid())
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line or line.strip() == b"stop":
            break
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    report = await _final(client, scan, loop_errors)
    root.removeHandler(scan)
    out.send(**report)


def _read_line(fd: int) -> bytes:
    """One line from ``fd``, read without buffering past its end (the rest stays in the pipe
    for the loop's reader)."""
    data = bytearray()
    while not data.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        data += byte
    return bytes(data)


def main() -> int:
    """Read the settings line, run the client until ``stop`` (or EOF), report, exit."""
    settings = json.loads(_read_line(sys.stdin.fileno()))
    out = Out(sys.stdout.buffer)
    asyncio.run(_run(settings, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
