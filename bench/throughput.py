"""Event throughput, side by side: tether, the decode limit, discord.py and hikari.

Run from the repository root::

    .venv/bin/python bench/throughput.py --json             # 3 runs of 50,000 events
    .venv/bin/python bench/throughput.py --runs 5 --events 100000 --json
    .venv/bin/python bench/throughput.py --memory           # 1,000,000 events, RSS marks
    .venv/bin/python bench/throughput.py --profile          # cProfile of tether's process

Three kinds of process. The **firehose** (bench/firehose.py) pre-builds one connection's
whole stream per compression (HELLO, READY, GUILD_CREATEs, then N realistic MESSAGE_CREATE
of mixed sizes, s = 1..N), compressed once, in order, with one compressor, and writes it as
fast as the socket takes it, so the client is the bottleneck. Each **client** runs in a
process of its own, one measurement per process: tether, discord.py or hikari, with one
async handler that counts MESSAGE_CREATE (and checks they arrive in order). The **decode
limit** runs in a client-like process too: the same payload bytes, fetched from the
firehose, through a fresh decompressor and the fastest JSON decoder available (msgspec
and orjson are both timed; the faster counts), in a bare loop.

A client's rate is ``(N - 1) / (t_last - t_first)``: from the first MESSAGE_CREATE handled
to the last, wall time, so start-up, READY and the guild stream are not counted, and the
socket is already full when the clock starts. The CPU the process spent over the same
window is reported per event. Every figure is the median over ``--runs`` runs; rows are
interleaved run by run, so a slow moment of the machine hits every row alike.

Rows: tether for zlib-stream, zstd-stream and no compression, each with the cache on and
off (gateway I/O in its own thread, the default); tether zlib-stream with the cache on and
``io_thread=False`` (what the isolation of issue 5 costs); tether zlib-stream, cache off,
with a handler that reads ``event.data`` (the body decoded, as a handler that uses it
would); discord.py with zlib-stream (its own default when ``zstandard`` is not installed:
the import is blocked in its process) and with zstd-stream (its default when it is);
hikari with zlib-stream (its default on 3.11 without backports.zstd). The peers' caches
are on (their defaults). Each peer uses orjson when installed, as they do by default.

Cache on is ``tether.Client``'s default (every part kept, 1000 messages, fed before
handlers); cache off is ``cache_flags=CacheFlags.NONE, message_cache_size=0``.

Stdout: the table; with ``--json`` the last line is one JSON object (``tether_eps``,
``limit_eps``, ``discordpy_eps``, ``hikari_eps``, ``ratio_limit``, ``ratio_discordpy``,
``ratio_hikari`` for zlib-stream with the cache on, then ``rows``, ``limits``,
``isolation``, sizes, timings, hygiene and versions). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
#: Seconds a client may take to start (connect, identify) on top of the stream's own bound.
START_TIMEOUT = 30.0
TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GFIRE.firehose-benchmark-token-not-real"


def log(message: str) -> None:
    """Progress, on stderr (stdout carries the report only)."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    key: str
    label: str
    client: str  # tether | discordpy | hikari | limit
    compress: str  # zlib-stream | zstd-stream | none
    cache: bool | None = None
    io_thread: bool = True
    read: bool = False


ROWS: tuple[Row, ...] = (
    Row("tether_zlib_cache", "tether zlib-stream, cache on", "tether", "zlib-stream", True),
    Row("tether_zlib_nocache", "tether zlib-stream, cache off", "tether", "zlib-stream", False),
    Row("tether_zstd_cache", "tether zstd-stream, cache on", "tether", "zstd-stream", True),
    Row("tether_zstd_nocache", "tether zstd-stream, cache off", "tether", "zstd-stream", False),
    Row("tether_none_cache", "tether no compression, cache on", "tether", "none", True),
    Row("tether_none_nocache", "tether no compression, cache off", "tether", "none", False),
    Row(
        "tether_zlib_cache_noio",
        "tether zlib-stream, cache on, io_thread=False",
        "tether",
        "zlib-stream",
        True,
        io_thread=False,
    ),
    Row(
        "tether_zlib_nocache_read",
        "tether zlib-stream, cache off, handler reads data",
        "tether",
        "zlib-stream",
        False,
        read=True,
    ),
    Row("discordpy_zlib", "discord.py 2.7 zlib-stream", "discordpy", "zlib-stream"),
    Row("discordpy_zstd", "discord.py 2.7 zstd-stream", "discordpy", "zstd-stream"),
    Row("hikari_zlib", "hikari 2.7 zlib-stream", "hikari", "zlib-stream"),
    Row("limit_zlib", "decode limit: zlib inflate + JSON", "limit", "zlib-stream"),
    Row("limit_zstd", "decode limit: zstd + JSON", "limit", "zstd-stream"),
    Row("limit_none", "decode limit: JSON only", "limit", "none"),
)
LIMIT_OF = {"zlib-stream": "limit_zlib", "zstd-stream": "limit_zstd", "none": "limit_none"}


# ---------------------------------------------------------------------------- firehose


class FirehoseProcess:
    """bench/firehose.py in a child process (a context manager)."""

    def __init__(self, events: int, modes: list[str], *, frames: bool = True) -> None:
        self.args = [
            sys.executable,
            str(HERE / "firehose.py"),
            "--events",
            str(events),
            "--modes",
            ",".join(modes),
            *([] if frames else ["--no-frames"]),
        ]
        self.port = 0
        self.sizes: dict[str, Any] = {}
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> FirehoseProcess:
        self._proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        out: IO[str] | None = self._proc.stdout
        assert out is not None
        for line in out:
            if line.startswith("SIZES "):
                self.sizes = json.loads(line[6:])
            elif line.startswith("PORT "):
                self.port = int(line.split()[1])
                return self
        raise RuntimeError("the firehose exited before listening")

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def connections(self) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/_firehose/connections"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return list(json.loads(resp.read()))


def run_worker(
    row: Row, port: int, events: int, extra: dict[str, Any] | None = None, timeout: float = 600.0
) -> dict[str, Any]:
    """One measurement in a fresh process; returns its JSON result."""
    config = {**asdict(row), "port": port, "events": events, **(extra or {})}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-1500:]
        return {"ok": False, "error": f"worker exit {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# ---------------------------------------------------------------------------- workers


class Counter:
    """Counts MESSAGE_CREATE in a handler; stamps the first and the last (and RSS marks)."""

    def __init__(self, events: int, marks: list[int]) -> None:
        self.events = events
        self.count = 0
        self.last_key = -1
        self.out_of_order = 0
        self.t0 = self.t1 = 0.0
        self.cpu0 = self.cpu1 = 0.0
        self.marks = set(marks)
        self.rss: dict[int, dict[str, float]] = {}
        self.done = asyncio.Event()
        self.changed_at = time.perf_counter()

    def hit(self, key: int) -> None:
        self.count = count = self.count + 1
        if key <= self.last_key:
            self.out_of_order += 1
        self.last_key = key
        if count == 1:
            self.t0, self.cpu0 = time.perf_counter(), time.process_time()
        if count in self.marks:
            self.rss[count] = rss_now()
        if count == self.events:
            self.t1, self.cpu1 = time.perf_counter(), time.process_time()
            self.done.set()

    async def wait(self, timeout: float, stall: float = 20.0) -> None:
        """Until every event arrived; raises TimeoutError on a stall or at ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen, seen_at = -1, loop.time()
        while not self.done.is_set():
            if self.count != seen:
                seen, seen_at = self.count, loop.time()
            if loop.time() > deadline or loop.time() - seen_at > stall:
                raise TimeoutError(f"{self.count} of {self.events} events arrived")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), 0.5)

    def result(self) -> dict[str, Any]:
        span = self.t1 - self.t0
        return {
            "count": self.count,
            "seconds": span,
            "eps": (self.events - 1) / span if span > 0 else None,
            "cpu_s": self.cpu1 - self.cpu0,
            "cpu_us_per_event": (self.cpu1 - self.cpu0) / max(1, self.events - 1) * 1e6,
            "out_of_order": self.out_of_order,
            "rss_marks": {str(k): v for k, v in sorted(self.rss.items())},
        }


def rss_now() -> dict[str, float]:
    """This process's resident set now and at its peak (MiB), from /proc."""
    values: dict[str, float] = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, amount = line.split(":")
                values["rss_mb" if name == "VmRSS" else "peak_mb"] = int(amount.split()[0]) / 1024
    return values


def make_tether(cfg: dict[str, Any]) -> tuple[Any, str]:
    """A ``tether.Client`` for the row, and how its cache is set (for the report).

    Cache on is the default (every part, 1000 messages); cache off is
    ``cache_flags=CacheFlags.NONE, message_cache_size=0`` (the cache is still called for
    every event and finds nothing to do). Without ``tether.cache`` the row is n/a.
    """
    import tether

    try:
        from tether.cache import CacheFlags
    except ImportError:
        raise LookupError("n/a (cache not available)") from None
    options: dict[str, Any] = dict(
        api_url=f"http://127.0.0.1:{cfg['port']}/api/v10",
        compress=None if cfg["compress"] == "none" else cfg["compress"],
        io_thread=cfg["io_thread"],
        guild_ready_timeout=2.0,
    )
    if cfg["cache"]:
        return tether.Client(TOKEN, **options), "tether.Client default (CacheFlags.ALL)"
    client = tether.Client(TOKEN, cache_flags=CacheFlags.NONE, message_cache_size=0, **options)
    return client, "tether.Client(cache_flags=CacheFlags.NONE, message_cache_size=0)"


async def run_tether(cfg: dict[str, Any], counter: Counter) -> dict[str, Any]:
    client, wiring = make_tether(cfg)
    read = cfg["read"]

    async def on_message(event: Any) -> None:
        if read:
            event.data["content"]
        counter.hit(event.seq)

    client.on("MESSAGE_CREATE")(on_message)
    await client.start()
    try:
        await counter.wait(cfg["timeout"])
    finally:
        await client.stop()
    return {"cache_wiring": wiring, "cache": repr(getattr(client, "cache", None))}


async def run_discordpy(cfg: dict[str, Any], counter: Counter) -> dict[str, Any]:
    from types import SimpleNamespace

    import discord.utils

    from peers.adapters import DiscordPyPeer, discordpy_base_urls

    base = f"http://127.0.0.1:{cfg['port']}"
    target: Any = SimpleNamespace(
        token=TOKEN, api_url=base + "/api/v10", gateway_url=f"ws://127.0.0.1:{cfg['port']}/"
    )
    compression = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
    if compression != cfg["compress"]:
        raise RuntimeError(f"discord.py would use {compression}, not {cfg['compress']}")
    with discordpy_base_urls(target):
        peer = DiscordPyPeer(target, "bench")

        async def on_message(message: Any) -> None:
            counter.hit(message.id)

        peer.client.event(on_message)
        await peer.start()
        try:
            await counter.wait(cfg["timeout"])
        finally:
            await peer.close()
    return {"failure": repr(peer.failure) if peer.failure else None}


async def run_hikari(cfg: dict[str, Any], counter: Counter) -> dict[str, Any]:
    from types import SimpleNamespace

    import hikari

    from peers.adapters import HikariPeer

    target: Any = SimpleNamespace(token=TOKEN, api_url=f"http://127.0.0.1:{cfg['port']}/api/v10")
    peer = HikariPeer(target, "bench")

    async def on_message(event: hikari.GuildMessageCreateEvent) -> None:
        counter.hit(int(event.message_id))

    peer.bot.subscribe(hikari.GuildMessageCreateEvent, on_message)
    await peer.start()
    try:
        await counter.wait(cfg["timeout"])
    finally:
        await peer.close()
    return {"failure": repr(peer.failure) if peer.failure else None}


def fetch_frames(port: int, mode: str) -> tuple[list[bytes], list[bytes]]:
    """The firehose's payloads for ``mode``: (prelude, messages)."""
    url = f"http://127.0.0.1:{port}/_firehose/frames?compress={mode}"
    with urllib.request.urlopen(url, timeout=60) as resp:
        blob = resp.read()
    (prelude_count,) = struct.unpack_from(">I", blob, 0)
    pos, frames = 4, []
    while pos < len(blob):
        (size,) = struct.unpack_from(">I", blob, pos)
        frames.append(blob[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return frames[:prelude_count], frames[prelude_count:]


def run_limit(cfg: dict[str, Any]) -> dict[str, Any]:
    """The same bytes through a bare decompress + JSON decode loop, per decoder."""
    import zlib

    import msgspec

    decoders: dict[str, Any] = {"msgspec": msgspec.json.decode}
    try:
        import orjson

        decoders["orjson"] = orjson.loads
    except ImportError:
        pass
    prelude, messages = fetch_frames(cfg["port"], cfg["compress"])
    rates: dict[str, float] = {}
    for name, loads in decoders.items():
        if cfg["compress"] == "zlib-stream":
            decompress = zlib.decompressobj().decompress
        elif cfg["compress"] == "zstd-stream":
            import zstandard

            decompress = zstandard.ZstdDecompressor().decompressobj().decompress
        else:
            decompress = bytes
        for data in prelude:
            loads(decompress(data))
        started = time.perf_counter()
        for data in messages:
            loads(decompress(data))
        rates[name] = len(messages) / (time.perf_counter() - started)
    best = max(rates, key=lambda k: rates[k])
    return {
        "ok": True,
        "eps": rates[best],
        "decoder": best,
        "by_decoder": rates,
        "count": len(messages),
    }


def worker(config: str) -> None:
    """``--worker CONFIG``: one measurement; prints one JSON line."""
    cfg: dict[str, Any] = json.loads(config)
    if cfg["client"] == "limit":
        print(json.dumps(run_limit(cfg)))
        return
    if cfg["client"] == "discordpy" and cfg["compress"] == "zlib-stream":
        sys.modules["zstandard"] = None  # type: ignore[assignment]  # discord.py: zlib, as without it
    sys.path.insert(0, str(HERE))
    cfg.setdefault("timeout", 60 + cfg["events"] / 1000)
    result = asyncio.run(_measure(cfg))
    print(json.dumps(result))


async def _measure(cfg: dict[str, Any]) -> dict[str, Any]:
    from peers.hygiene import Hygiene, guard_loopback, leftovers, non_loopback_attempts

    guard_loopback()
    if cfg.get("switch_interval"):  # experiments: the GIL hand-off period (default 5 ms)
        sys.setswitchinterval(cfg["switch_interval"])
    hygiene = Hygiene()
    hygiene.install(asyncio.get_running_loop())
    counter = Counter(cfg["events"], cfg.get("marks", []))
    profile = _Profiler(cfg["profile"]) if cfg.get("profile") else None
    runner = {"tether": run_tether, "discordpy": run_discordpy, "hikari": run_hikari}
    result: dict[str, Any] = {"ok": False}
    try:
        if profile is not None:
            profile.start()
        async with asyncio.timeout(cfg["timeout"] + START_TIMEOUT):
            extra = await runner[cfg["client"]](cfg, counter)
        result.update(extra)
        result["ok"] = counter.count == cfg["events"] and counter.out_of_order == 0
        if not result["ok"]:
            result["error"] = f"{counter.count} events, {counter.out_of_order} out of order"
    except LookupError as exc:
        result.update(ok=False, na=str(exc))
    except Exception as exc:
        result.update(ok=False, error=repr(exc))
    finally:
        if profile is not None:
            result["profile"] = profile.stop()
    result.update(counter.result())
    result["rss_end"] = rss_now()
    package = {"discordpy": "discord"}.get(cfg["client"], cfg["client"])
    hygiene.uninstall()
    result["hygiene"] = {
        "leftovers": await leftovers((package,)),
        "warnings": hygiene.warnings_by_library(),
        "loop_errors": hygiene.loop_error_summaries(),
        "non_loopback": non_loopback_attempts(),
    }
    return result


class _Profiler:
    """cProfile in the main thread and in every thread started while it runs (the I/O one)."""

    def __init__(self, path: str) -> None:
        import cProfile

        self.path = path
        self.main = cProfile.Profile()
        self.threads: dict[str, Any] = {}

    def _bootstrap(self, *_args: Any) -> None:
        import cProfile
        import threading

        sys.setprofile(None)
        profiler = cProfile.Profile()
        self.threads[threading.current_thread().name] = profiler
        profiler.enable()

    def start(self) -> None:
        import threading

        threading.setprofile(self._bootstrap)
        self.main.enable()

    def stop(self) -> dict[str, Any]:
        import pstats
        import threading

        self.main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        stats = {"main": pstats.Stats(self.main)}
        for name, profiler in self.threads.items():
            try:
                stats[name] = pstats.Stats(profiler)
            except TypeError:  # a thread that recorded nothing
                continue
        merged = pstats.Stats(self.main)
        for name, profiler in self.threads.items():
            if name in stats:
                merged.add(profiler)
        merged.dump_stats(self.path)
        return {name: top_functions(s, 15) for name, s in {**stats, "all threads": merged}.items()}


def top_functions(stats: Any, count: int) -> list[dict[str, Any]]:
    """The ``count`` functions with the most own time (tottime)."""
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({name})",
                "calls": calls,
                "own_s": round(tottime, 4),
                "cum_s": round(cumtime, 4),
            }
        )
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return rows[:count]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# ---------------------------------------------------------------------------- reporting


@dataclass
class Cell:
    """Every run of one row."""

    row: Row
    results: list[dict[str, Any]] = field(default_factory=list)

    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("ok")]

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.ok() if r.get(key) is not None]
        return statistics.median(values) if values else None

    def status(self) -> str:
        na = [r["na"] for r in self.results if r.get("na")]
        if na:
            return na[0]
        failed = [r.get("error", "?") for r in self.results if not r.get("ok")]
        if not failed:
            return "ok"
        return f"{len(failed)}/{len(self.results)} runs failed: {failed[0][:300]}"


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def build_report(
    cells: dict[str, Cell],
    args: argparse.Namespace,
    sizes: dict[str, Any],
    elapsed: float,
    connections: list[dict[str, Any]],
) -> dict[str, Any]:
    med = {key: cell.median("eps") for key, cell in cells.items()}
    rows: dict[str, Any] = {}
    for key, cell in cells.items():
        row = cell.row
        eps = med[key]
        entry: dict[str, Any] = {
            "label": row.label,
            "client": row.client,
            "compress": row.compress,
            "cache": row.cache,
            "io_thread": row.io_thread if row.client == "tether" else None,
            "eps": _r(eps),
            "runs_eps": [_r(r.get("eps")) for r in cell.results],
            "status": cell.status(),
        }
        if row.client == "limit":
            entry["decoder"] = [r.get("decoder") for r in cell.ok()]
            entry["by_decoder"] = [
                {k: _r(v) for k, v in r.get("by_decoder", {}).items()} for r in cell.ok()
            ]
        else:
            entry["cpu_us_per_event"] = _r(cell.median("cpu_us_per_event"), 2)
            entry["peak_rss_mb"] = _r(
                statistics.median([r["rss_end"]["peak_mb"] for r in cell.ok()])
                if cell.ok()
                else None
            )
            entry["ratio_limit"] = _ratio(eps, med.get(LIMIT_OF[row.compress]))
            entry["ratio_discordpy"] = _ratio(eps, med.get("discordpy_zlib"))
            entry["ratio_hikari"] = _ratio(eps, med.get("hikari_zlib"))
            wiring = {r.get("cache_wiring") for r in cell.results if r.get("cache_wiring")}
            if wiring:
                entry["cache_wiring"] = sorted(wiring)
            entry["hygiene"] = _hygiene(cell)
        rows[key] = entry
    head = med.get("tether_zlib_cache")
    iso_on, iso_off = head, med.get("tether_zlib_cache_noio")
    report: dict[str, Any] = {
        "tether_eps": _r(head),
        "limit_eps": _r(med.get("limit_zlib")),
        "discordpy_eps": _r(med.get("discordpy_zlib")),
        "hikari_eps": _r(med.get("hikari_zlib")),
        "ratio_limit": _ratio(head, med.get("limit_zlib")),
        "ratio_discordpy": _ratio(head, med.get("discordpy_zlib")),
        "ratio_hikari": _ratio(head, med.get("hikari_zlib")),
        "headline": "zlib-stream, cache on, one counting async handler, io_thread=True",
        "isolation": {
            "io_thread_on_eps": _r(iso_on),
            "io_thread_off_eps": _r(iso_off),
            "cost": None if not iso_on or not iso_off else round(1 - iso_on / iso_off, 3),
            "note": "cost = 1 - on/off (negative: the I/O thread is faster)",
        },
        "rows": rows,
        "events": args.events,
        "runs": args.runs,
        "rate": "(N - 1) / (time of the N-th MESSAGE_CREATE handled - time of the first)",
        "stream": sizes,
        "firehose_connections": _connection_summary(connections),
        "elapsed_s": round(elapsed, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": _versions(),
    }
    return report


def _hygiene(cell: Cell) -> dict[str, Any]:
    out: dict[str, Any] = {"leftovers": [], "loop_errors": [], "warnings": {}, "non_loopback": []}
    for r in cell.results:
        h = r.get("hygiene") or {}
        out["leftovers"] += h.get("leftovers", [])
        out["loop_errors"] += h.get("loop_errors", [])
        out["non_loopback"] += h.get("non_loopback", [])
        for lines in (h.get("warnings") or {}).values():
            for text, n in lines.items():
                out["warnings"][text] = out["warnings"].get(text, 0) + n
    return out


def _connection_summary(connections: list[dict[str, Any]]) -> dict[str, Any]:
    modes: dict[str, int] = {}
    for c in connections:
        modes[c.get("mode", "?")] = modes.get(c.get("mode", "?"), 0) + 1
    return {
        "count": len(connections),
        "by_mode": modes,
        "resumes": sum(1 for c in connections if c.get("resume")),
        "incomplete": sum(1 for c in connections if c.get("identify") and not c.get("completed")),
        "heartbeats": sum(c.get("heartbeats", 0) for c in connections),
        "acks_deferred": sum(c.get("acks_deferred", 0) for c in connections),
    }


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("tether", "discord.py", "hikari", "aiohttp", "msgspec", "orjson", "zstandard"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def render_table(report: dict[str, Any]) -> str:
    lines = [
        f"Throughput: {report['events']:,} MESSAGE_CREATE per run, median of {report['runs']} "
        f"runs ({report['rate']})",
        "",
        "| row | events/s | runs | CPU us/event | vs limit | vs discord.py | vs hikari "
        "| peak RSS MiB |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]

    def fmt(value: Any, spec: str = ",.0f") -> str:
        return "-" if value is None else format(value, spec)

    for entry in report["rows"].values():
        runs = "/".join(fmt(v) for v in entry["runs_eps"])
        if entry["status"] != "ok" and entry["eps"] is None:
            runs = entry["status"][:60]
        cells = [
            entry["label"],
            fmt(entry["eps"]),
            runs,
            fmt(entry.get("cpu_us_per_event"), ".1f"),
            fmt(entry.get("ratio_limit"), ".2f"),
            fmt(entry.get("ratio_discordpy"), ".2f"),
            fmt(entry.get("ratio_hikari"), ".2f"),
            fmt(entry.get("peak_rss_mb"), ".0f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    iso = report["isolation"]
    lines += [
        "",
        f"Headline ({report['headline']}): tether {fmt(report['tether_eps'])}/s = "
        f"{fmt(report['ratio_limit'], '.2f')} of the decode limit "
        f"({fmt(report['limit_eps'])}/s), {fmt(report['ratio_discordpy'], '.2f')}x discord.py, "
        f"{fmt(report['ratio_hikari'], '.2f')}x hikari.",
        f"Isolation (io_thread on vs off, zlib-stream, cache on): {fmt(iso['io_thread_on_eps'])} "
        f"vs {fmt(iso['io_thread_off_eps'])}/s, cost {fmt(iso['cost'], '.1%')}.",
        f"Stream: {json.dumps(report['stream'])}",
        f"Elapsed: {report['elapsed_s']} s; load average (1 min) "
        f"{report['machine'].get('load_avg_1m')} on {report['machine']['cpus']} CPUs.",
    ]
    problems = [
        f"{key}: {entry['status']}"
        for key, entry in report["rows"].items()
        if entry["status"] != "ok"
    ]
    for key, entry in report["rows"].items():
        hygiene = entry.get("hygiene") or {}
        for kind in ("leftovers", "loop_errors", "non_loopback"):
            if hygiene.get(kind):
                problems.append(f"{key}: {kind}: {hygiene[kind][:3]}")
        if hygiene.get("warnings"):
            problems.append(f"{key}: warnings: {list(hygiene['warnings'].items())[:3]}")
    if problems:
        lines += ["", "Problems:", *(f"- {p}" for p in problems)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- modes


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = os.getloadavg()
    rows = [r for r in ROWS if not args.rows or any(r.key.startswith(p) for p in args.rows)]
    modes = sorted({r.compress for r in rows})
    cells = {r.key: Cell(r) for r in rows}
    log(f"firehose: building {args.events:,} events for {', '.join(modes)}")
    with FirehoseProcess(args.events, modes) as firehose:
        log(f"firehose on port {firehose.port}: {json.dumps(firehose.sizes)}")
        for run in range(args.runs):
            order = rows[run % len(rows) :] + rows[: run % len(rows)]
            for row in order:
                result = run_worker(row, firehose.port, args.events)
                cells[row.key].results.append(result)
                eps = result.get("eps")
                status = "ok" if result.get("ok") else (result.get("na") or result.get("error"))
                log(
                    f"run {run + 1}/{args.runs} {row.key:<26} "
                    f"{'-' if eps is None else f'{eps:>10,.0f}'}/s  {str(status)[:200]}"
                )
        connections = firehose.connections()
        sizes = firehose.sizes
    report = build_report(cells, args, sizes, time.perf_counter() - started, connections)
    report["machine"]["load_avg_1m"] = {"start": load_before[0], "end": os.getloadavg()[0]}
    return report


def memory_run(args: argparse.Namespace) -> dict[str, Any]:
    """tether over a long stream: RSS at every 100k events (zlib-stream, cache on)."""
    events = args.events
    marks = list(range(100_000, events + 1, 100_000))
    row = ROWS[0]
    log(f"firehose: building {events:,} events (zlib-stream); this takes a while")
    started = time.perf_counter()
    with FirehoseProcess(events, ["zlib-stream"], frames=False) as firehose:
        log(f"firehose on port {firehose.port}: {json.dumps(firehose.sizes)}")
        result = run_worker(
            row, firehose.port, events, {"marks": marks}, timeout=120 + events / 500
        )
        connections = firehose.connections()
    marks_out = result.get("rss_marks", {})
    return {
        "events": events,
        "row": row.label,
        "ok": result.get("ok"),
        "error": result.get("error"),
        "eps": _r(result.get("eps")),
        "rss_marks_mb": marks_out,
        "peak_rss_mb_at_100k": (marks_out.get("100000") or {}).get("peak_mb"),
        f"peak_rss_mb_at_{events // 1000}k": (marks_out.get(str(events)) or {}).get("peak_mb"),
        "rss_end": result.get("rss_end"),
        "hygiene": result.get("hygiene"),
        "firehose_connections": _connection_summary(connections),
        "stream": firehose.sizes,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def profile_run(args: argparse.Namespace) -> dict[str, Any]:
    """cProfile of tether's process (zlib-stream, cache off), io_thread on and off.

    With the I/O thread, a C call that releases the GIL (zlib's inflate, a socket read)
    is charged with the time the thread then waits to get the GIL back from the user's
    thread: read those lines as contention, not work. Without it, own time is CPU time.
    """
    base = next(r for r in ROWS if r.key == "tether_zlib_nocache")
    variants = [
        base,
        replace(
            base, key=base.key + "_noio", io_thread=False, label=base.label + ", io_thread=False"
        ),
    ]
    out: dict[str, Any] = {"events": args.events, "profiles": {}}
    with FirehoseProcess(args.events, ["zlib-stream"], frames=False) as firehose:
        for row in variants:
            path = str(Path(args.profile_out).resolve()) + (".noio" if not row.io_thread else "")
            result = run_worker(row, firehose.port, args.events, {"profile": path})
            out["profiles"][row.label] = {
                "ok": result.get("ok"),
                "error": result.get("error"),
                "eps_under_profiler": _r(result.get("eps")),
                "cpu_us_per_event_under_profiler": _r(result.get("cpu_us_per_event"), 1),
                "stats_file": path,
                "top_own_time": result.get("profile"),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="MESSAGE_CREATE per run (default 50,000; --memory: 1,000,000)",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--rows",
        type=lambda s: s.split(","),
        default=None,
        help="only rows whose key starts with one of these (comma-separated)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--memory", action="store_true", help="the long run: RSS per 100k")
    parser.add_argument("--profile", action="store_true", help="cProfile tether (zlib, no cache)")
    parser.add_argument("--profile-out", default="throughput.prof")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    if args.memory:
        args.events = args.events or 1_000_000
        report = memory_run(args)
        print(json.dumps(report, indent=1))
    elif args.profile:
        args.events = args.events or 50_000
        report = profile_run(args)
        for label, profile in report["profiles"].items():
            print(
                f"\n== {label}: {profile['eps_under_profiler']} events/s under the profiler, "
                f"{profile['cpu_us_per_event_under_profiler']} us CPU/event"
            )
            for thread, top in (profile.get("top_own_time") or {}).items():
                if thread.startswith(("asyncio_", "tether watchdog")):
                    continue  # executor and watchdog threads: idle waits
                print(f"\n{thread}: top {len(top)} by own time")
                for r in top:
                    print(
                        f"  {r['own_s']:8.3f}s own {r['cum_s']:8.3f}s cum {r['calls']:>9} "
                        f"{r['function']}"
                    )
    else:
        args.events = args.events or 50_000
        report = benchmark(args)
        print(render_table(report))
    if args.json:
        print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
