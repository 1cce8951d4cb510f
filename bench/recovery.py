"""Gateway fault recovery, side by side: tether, discord.py and hikari against one emulator.

Run from the repository root::

    .venv/bin/python bench/recovery.py                      # 3 runs, 2000 ms heartbeat
    .venv/bin/python bench/recovery.py --runs 5 --interval-ms 1000 --json

What is measured, per (client, fault, run): seconds from the fault's injection (the
emulator's ``fault`` log record) to the client's RESUME being accepted (the emulator's
``resume`` record for that session, on the new connection). Both records are stamped by the
same loop clock, in this process. The report gives the median over runs per cell, also in
units of the heartbeat interval, and how each run ended:

- ``resumed``: RESUME accepted within the bound (these runs make the median);
- ``reidentified``: the client started a new session instead (the time to its new READY is
  reported apart, as ``reidentify_median_s``; it is not mixed into ``median_s``);
- ``not_recovered``: neither within the fault's bound (``median_s`` is then null);
- ``failed``: the client raised or could not be faulted (detail in ``samples``).

Faults (emulator API, each aimed at one client's session): ``drop`` (abrupt TCP drop),
``close_4000``, ``op7_reconnect`` (op 7, the emulator closes 2 s later if the client has
not), ``zombie`` (``black_hole``: nothing sent or read, TCP open) and ``acks_stop``
(``drop_acks()``: heartbeats go unanswered while dispatches keep flowing). A message is
dispatched every quarter interval for the whole benchmark, so "dispatches keep flowing"
holds and every client sees the same traffic. (A client whose only liveness check is "heard
nothing for N seconds", like discord.py's 60 s receive timeout, never notices acks_stop
under this traffic; on a silent gateway it would after N seconds.)

Bounds: 3 intervals + 10 s for drop/close/op 7; 3 intervals + 70 s for zombie and
acks_stop, which covers discord.py's fixed 60 s receive timeout (its only zombie detector).

How a run is laid out (and why) so the whole benchmark stays near 2-3 minutes:

- Every cell gets a fresh client; all of them (clients x faults x runs) start together
  against one emulator (identify concurrency check off, since they are unsharded
  independent bots) and each is stopped cleanly (its own close API) right after its
  measurement; after the last one, no task, thread or aiohttp client of any library may be
  left. An audit hook refuses (and reports) any connect or name lookup that is not loopback.
- Then everyone idles ``--settle-s`` (31 s by default) with heartbeats and traffic flowing:
  hikari backs off 1-2 s before reconnecting when its last connect was under 30 s ago, a
  penalty for flapping that a long-running bot does not pay; without the settle, hikari's
  numbers would measure that instead of its recovery.
- The quick faults (drop, close_4000, op7_reconnect) are measured one cell at a time, the
  client order rotating per run, while nothing else is recovering.
- The slow faults (zombie, acks_stop) are then injected into all their clients, 0.2 s
  apart, and waited for concurrently: their bounds (over a minute) would otherwise add up
  to many minutes. Their recoveries cost a few milliseconds of CPU each, far below what
  these cells measure (seconds).

Stdout: a markdown table (and per-run samples); with ``--json`` the last line is one JSON
object with ``interval_ms``, ``runs``, ``results`` (per client and fault: ``median_s``,
``median_intervals``, ``recovered`` = "k/n" runs resumed within the bound, plus outcome
details), ``ratios`` (per fault, discord.py and hikari medians over tether's), and details
(bounds, settle, elapsed time, hygiene, versions). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import tether
from peers.adapters import PEERS, Peer, discordpy_base_urls
from peers.hygiene import Hygiene, guard_loopback, leftovers, non_loopback_attempts
from tether.emulator import Emulator, EmulatorConfig, LogRecord

#: Fault name -> injection aimed at one session; returns how many connections it hit.
FAULTS: dict[str, Callable[[Emulator, str], int]] = {
    "drop": lambda emu, sid: emu.faults.drop(session_id=sid),
    "close_4000": lambda emu, sid: emu.faults.close(4000, session_id=sid),
    "op7_reconnect": lambda emu, sid: emu.faults.reconnect(session_id=sid),
    "zombie": lambda emu, sid: emu.faults.black_hole(session_id=sid),
    "acks_stop": lambda emu, sid: emu.faults.drop_acks(session_id=sid),
}
#: Faults measured one at a time (recovery within a few seconds at most).
QUICK = ("drop", "close_4000", "op7_reconnect")
#: Faults measured concurrently (a client may need a minute, or never notice).
SLOW = ("zombie", "acks_stop")

CLIENTS: dict[str, type[Peer]] = {cls.key: cls for cls in PEERS}

#: Seconds allowed for every client to reach its ready signal at start-up.
READY_TIMEOUT = 30.0
#: Seconds a client may take to report RESUMED after the emulator accepted its RESUME.
SIGNAL_TIMEOUT = 5.0
#: Seconds a client may take to close (discord.py waits up to 30 s for a close reply).
STOP_TIMEOUT = 40.0
#: Seconds the emulator may take to log the close of a stopped client's socket.
CLOSE_SEEN_TIMEOUT = 5.0
#: Gap between the injections of the concurrent (slow) cells.
SLOW_STAGGER = 0.2
#: Guilds in the emulator's world.
GUILDS = 3


def bound_for(fault: str, interval_s: float) -> float:
    """The longest wait for a recovery from ``fault`` (seconds after its injection)."""
    return 3 * interval_s + (70.0 if fault in SLOW else 10.0)


def log(message: str) -> None:
    """Progress, on stderr (stdout carries the report only)."""
    print(message, file=sys.stderr, flush=True)


@dataclasses.dataclass
class Sample:
    """How one (client, fault, run) cell ended."""

    client: str
    fault: str
    run: int
    outcome: str
    seconds: float | None = None
    bound_s: float = 0.0
    detail: str = ""
    signalled: bool | None = None
    stop_clean: bool | None = None
    stop_detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, seconds rounded to 0.1 ms."""
        out = dataclasses.asdict(self)
        out["seconds"] = None if self.seconds is None else round(self.seconds, 4)
        return out


@dataclasses.dataclass
class Cell:
    """One client dedicated to one (fault, run) measurement."""

    peer: Peer
    fault: str
    run: int
    sample: Sample | None = None


# ---------------------------------------------------------------------------- measuring


async def _wait_any(emu: Emulator, peer: Peer, match: Callable[[LogRecord], bool], since: int,
                    timeout: float) -> None:  # fmt: skip
    """Return when a matching log record exists, the peer signals something, or at timeout."""
    waits = [
        asyncio.ensure_future(emu.log.wait_for(match, since=since, timeout=None)),
        asyncio.ensure_future(peer.changed.wait()),
    ]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def measure(emu: Emulator, cell: Cell, bound: float) -> Sample:
    """Inject ``cell.fault`` into the cell's session; wait (bounded) for RESUME or READY."""
    loop = asyncio.get_running_loop()
    peer, fault = cell.peer, cell.fault
    sample = Sample(peer.key, fault, cell.run, "failed", bound_s=bound)
    session = peer.session_id
    if session is None or peer.failure is not None:
        sample.detail = f"not running before the fault: {peer.failure!r}"
        return sample
    readies, resumes = peer.ready_count, peer.resumed_count
    mark = emu.log.mark()
    hit = FAULTS[fault](emu, session)
    injected = emu.log.find("fault", since=mark, session_id=session)
    if hit != 1 or not injected:
        sample.detail = f"the fault hit {hit} connections"
        return sample
    start = injected[0]
    deadline = start.time + bound

    def resumed(record: LogRecord) -> bool:
        return record.kind == "resume" and record.session_id == session

    for _ in range(100_000):  # bounded: each pass waits for a log record or a peer signal
        peer.changed.clear()
        done = emu.log.find(resumed, since=start.index)
        if done and done[0].time - start.time <= bound:
            sample.outcome, sample.seconds = "resumed", done[0].time - start.time
            sample.signalled = await peer.wait(lambda: peer.resumed_count > resumes, SIGNAL_TIMEOUT)
            return sample
        if peer.ready_count > readies and peer.session_id not in (None, session):
            ready = emu.log.find("ready", since=start.index, session_id=peer.session_id)
            if ready:
                sample.outcome, sample.seconds = "reidentified", ready[0].time - start.time
                rejected = emu.log.find("resume_rejected", since=start.index, session_id=session)
                sample.detail = (
                    f"RESUME rejected ({rejected[0].get('reason')}), then IDENTIFY"
                    if rejected
                    else "IDENTIFY without trying RESUME"
                )
                sample.signalled = True
                return sample
        if peer.failed() is not None:
            sample.detail = f"client failed: {peer.failed()!r}"
            return sample
        remaining = deadline - loop.time()
        if remaining <= 0:
            sample.outcome = "not_recovered"
            sample.detail = f"not recovered within {bound:g}s"
            return sample
        await _wait_any(emu, peer, resumed, start.index, remaining)
    sample.detail = "gave up (too many wake-ups)"
    return sample


async def stop_cleanly(emu: Emulator, peer: Peer) -> tuple[bool, str]:
    """Close the peer with its own API; check the emulator saw its socket close."""
    loop = asyncio.get_running_loop()
    conns = emu.hub.targets(peer.session_id) if peer.session_id else []
    mark = emu.log.mark()
    began = loop.time()
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await peer.close()
    except TimeoutError:
        return False, f"close() took over {STOP_TIMEOUT:g}s"
    except Exception as exc:
        return False, f"close() raised {exc!r}"
    took = loop.time() - began
    codes = []
    for conn in conns:
        try:
            record = await emu.log.wait_for(
                "disconnect", conn_id=conn.id, since=mark, timeout=CLOSE_SEEN_TIMEOUT
            )
        except TimeoutError:
            why = " (socket black-holed)" if conn.black_holed else ""
            return False, f"closed in {took:.2f}s; the emulator never saw the close{why}"
        codes.append(f"{record.get('by')} {record.get('code')}")
    return True, f"closed in {took:.2f}s ({', '.join(codes) or 'no live socket'})"


async def run_cell(emu: Emulator, cell: Cell, interval_s: float, delay: float = 0.0) -> Sample:
    """Measure one cell, then stop its client cleanly."""
    if delay:
        await asyncio.sleep(delay)
    sample = await measure(emu, cell, bound_for(cell.fault, interval_s))
    sample.stop_clean, sample.stop_detail = await stop_cleanly(emu, cell.peer)
    cell.sample = sample
    shown = "-" if sample.seconds is None else f"{sample.seconds:.3f}s"
    log(f"  {cell.peer.label:<10} {cell.fault:<13} run {cell.run + 1}: {sample.outcome} "
        f"{shown} {sample.detail}".rstrip())  # fmt: skip
    return sample


async def traffic(emu: Emulator, period: float, stop: asyncio.Event, max_ticks: int) -> int:
    """Dispatch a MESSAGE_CREATE every ``period`` s until ``stop`` (at most ``max_ticks``)."""
    channel = emu.world.text_channel_ids()[0]
    sent = 0
    for tick in range(max_ticks):
        await emu.send_message(channel, f"tick {tick}")
        sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
        if stop.is_set():
            break
    return sent


# ---------------------------------------------------------------------------- the benchmark


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run every cell and return the report (see the module docstring)."""
    began = time.perf_counter()
    git = git_state()  # the code imported now is what runs
    interval_s = args.interval_ms / 1000
    faults: list[str] = args.faults
    clients: list[type[Peer]] = [CLIENTS[key] for key in args.clients]
    guard_loopback()
    hygiene = Hygiene()
    hygiene.install(asyncio.get_running_loop())
    config = EmulatorConfig(heartbeat_interval_ms=args.interval_ms, identify_window_s=0.0)
    stop_traffic = asyncio.Event()
    try:
        async with Emulator(guilds=GUILDS, seed=args.seed, config=config) as emu:
            with discordpy_base_urls(emu):
                cells = [
                    Cell(cls(emu, f"{fault}/run{run + 1}"), fault, run)
                    for run in range(args.runs)
                    for fault in faults
                    for cls in clients
                ]
                log(f"starting {len(cells)} clients against {emu.base_url} ...")
                await asyncio.gather(*(c.peer.start() for c in cells))
                ready = await asyncio.gather(*(c.peer.wait_ready(READY_TIMEOUT) for c in cells))
                if not all(ready):
                    missing = [repr(c.peer) for c, ok in zip(cells, ready, strict=True) if not ok]
                    log(f"not ready within {READY_TIMEOUT:g}s: {missing}")
                sessions = [c.peer.session_id for c in cells if c.peer.session_id]
                if len(set(sessions)) != len(sessions) or not all(
                    s in emu.sessions for s in sessions
                ):
                    raise RuntimeError("clients' sessions are not distinct emulator sessions")
                max_ticks = int(3600 / (interval_s / 4))
                feeder = asyncio.create_task(traffic(emu, interval_s / 4, stop_traffic, max_ticks))
                log(f"all ready after {time.perf_counter() - began:.1f}s; settling "
                    f"{args.settle_s:g}s (hikari's 30 s reconnect-backoff window)")  # fmt: skip
                await asyncio.sleep(args.settle_s)

                quick = [c for c in cells if c.fault in QUICK]
                for run in range(args.runs):
                    for fault in QUICK:
                        row = [c for c in quick if c.run == run and c.fault == fault]
                        shift = run % max(len(row), 1)
                        for cell in row[shift:] + row[:shift]:
                            await run_cell(emu, cell, interval_s)
                slow = [c for c in cells if c.fault in SLOW]
                if slow:
                    bounds = ", ".join(f"{f} {bound_for(f, interval_s):g}s" for f in SLOW)
                    log(f"slow faults: {len(slow)} cells at once, bounds {bounds}")
                await asyncio.gather(
                    *(run_cell(emu, c, interval_s, SLOW_STAGGER * n) for n, c in enumerate(slow))
                )
                stop_traffic.set()
                ticks = await feeder
                left = await leftovers(tuple(cls.package for cls in clients))
                emulator_stats = {
                    "identifies": emu.identify_count,
                    "resumes": emu.resume_count,
                    "messages_dispatched": ticks,
                }
    finally:
        stop_traffic.set()
        hygiene.uninstall()
    samples = [c.sample for c in cells if c.sample is not None]
    return build_report(
        args,
        samples,
        elapsed=time.perf_counter() - began,
        hygiene={
            "clean_stops": f"{sum(bool(s.stop_clean) for s in samples)}/{len(samples)}",
            "leftovers_after_all_stopped": left,
            "non_loopback_attempts_refused": non_loopback_attempts(),
            "loop_errors": hygiene.loop_error_summaries(),
            "library_warnings": hygiene.warnings_by_library(),
        },
        emulator=emulator_stats,
        git=git,
    )


# ---------------------------------------------------------------------------- reporting


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summarize(samples: Sequence[Sample], interval_s: float, bound: float) -> dict[str, Any]:
    """One cell of ``results``: medians and how the runs ended."""
    n = len(samples)
    resumed = [s.seconds for s in samples if s.outcome == "resumed" and s.seconds is not None]
    reid = [s.seconds for s in samples if s.outcome == "reidentified" and s.seconds is not None]
    median = statistics.median(resumed) if resumed else None
    counts = {o: sum(s.outcome == o for s in samples) for o in
              ("resumed", "reidentified", "not_recovered", "failed")}  # fmt: skip
    notes = []
    if counts["reidentified"]:
        notes.append(f"re-identified in {counts['reidentified']}/{n} runs")
    if counts["not_recovered"]:
        notes.append(f"not recovered within {bound:g}s in {counts['not_recovered']}/{n} runs")
    if counts["failed"]:
        notes.append(f"failed in {counts['failed']}/{n} runs")
    return {
        "median_s": _r(median),
        "median_intervals": _r(None if median is None else median / interval_s, 3),
        "recovered": f"{len(resumed)}/{n}",
        "reidentified": f"{counts['reidentified']}/{n}",
        "reidentify_median_s": _r(statistics.median(reid) if reid else None),
        "not_recovered": f"{counts['not_recovered']}/{n}",
        "failed": f"{counts['failed']}/{n}",
        "min_s": _r(min(resumed) if resumed else None),
        "max_s": _r(max(resumed) if resumed else None),
        "samples_s": [_r(s.seconds) if s.outcome == "resumed" else None for s in samples],
        "bound_s": bound,
        "note": "; ".join(notes),
    }


def build_report(
    args: argparse.Namespace,
    samples: list[Sample],
    *,
    elapsed: float,
    hygiene: dict[str, Any],
    emulator: dict[str, Any],
    git: dict[str, Any],
) -> dict[str, Any]:
    """The JSON report."""
    interval_s = args.interval_ms / 1000
    results: dict[str, dict[str, Any]] = {}
    for key in args.clients:
        results[key] = {}
        for fault in args.faults:
            cell = sorted(
                (s for s in samples if s.client == key and s.fault == fault), key=lambda s: s.run
            )
            results[key][fault] = summarize(cell, interval_s, bound_for(fault, interval_s))
    ratios: dict[str, dict[str, float | None]] = {}
    if "tether" in results:
        for fault in args.faults:
            base = results["tether"][fault]["median_s"]
            ratios[fault] = {}
            for key in args.clients:
                if key == "tether":
                    continue
                other = results[key][fault]["median_s"]
                ratios[fault][f"{key}_over_tether"] = (
                    round(other / base, 2) if base and other is not None else None
                )
                if base and other is None and results[key][fault]["not_recovered"][0] != "0":
                    # Never recovered within the bound: the ratio is at least bound / tether.
                    ratios[fault][f"{key}_over_tether_at_least"] = round(
                        bound_for(fault, interval_s) / base, 1
                    )
    return {
        "interval_ms": args.interval_ms,
        "runs": args.runs,
        "results": results,
        "ratios": ratios,
        "metric": "seconds from the emulator's fault record to its resume record for the "
        "same session (same loop clock); median over runs that resumed within the bound",
        "bounds_s": {f: bound_for(f, interval_s) for f in args.faults},
        "settle_s": args.settle_s,
        "elapsed_s": round(elapsed, 1),
        "samples": [s.as_dict() for s in samples],
        "hygiene": hygiene,
        "emulator": emulator,
        "versions": {
            "python": sys.version.split()[0],
            **{d: metadata.version(d) for d in ("tether", "discord.py", "hikari", "aiohttp")},
            "tether_git": git,
        },
    }


def git_state() -> dict[str, Any]:
    """Where tether was imported from, its commit and any uncommitted change under src/."""
    package = os.path.dirname(os.path.abspath(tether.__file__ or "."))
    root = os.path.dirname(os.path.dirname(package))  # .../src/tether -> the checkout
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError) as exc:
        return {"imported_from": package, "commit": None, "error": repr(exc)[:200]}
    return {
        "imported_from": package,
        "commit": head,
        "uncommitted_in_src": [line.strip() for line in dirty],
    }


LABELS = {cls.key: cls.label for cls in PEERS}


def _cell_text(cell: dict[str, Any]) -> str:
    runs = cell["recovered"].split("/")[1]
    if cell["median_s"] is None:
        parts = [f"— (resumed 0/{runs})"]
    else:
        median, intervals = cell["median_s"], cell["median_intervals"]
        parts = [f"{median:.3f} s = {intervals:.2f} iv ({cell['recovered']})"]
    if cell["note"]:
        parts.append(cell["note"])
    return "; ".join(parts)


def markdown(report: dict[str, Any]) -> str:
    """The readable table, plus the per-run samples."""
    results, ratios = report["results"], report["ratios"]
    clients = list(results)
    faults = list(report["bounds_s"])
    others = [k for k in clients if k != "tether"] if "tether" in clients else []
    head = ["fault", "bound"] + [LABELS[k] for k in clients]
    head += [f"{LABELS[k]} ÷ tether" for k in others]
    lines = [
        f"Recovery time, fault injected -> RESUME accepted (emulator log, same loop clock); "
        f"median of {report['runs']} runs, heartbeat interval {report['interval_ms']} ms "
        f"(iv = intervals; (k/n) = runs that resumed within the bound).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for fault in faults:
        row = [fault, f"{report['bounds_s'][fault]:g} s"]
        row += [_cell_text(results[k][fault]) for k in clients]
        for k in others:
            ratio = ratios.get(fault, {}).get(f"{k}_over_tether")
            floor = ratios.get(fault, {}).get(f"{k}_over_tether_at_least")
            row.append(f"{ratio:g}x" if ratio is not None else f"> {floor:g}x" if floor else "—")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Per run (s; R = resumed, I = re-identified (time to new READY), "
              "X = not recovered within the bound, F = failed):", ""]  # fmt: skip
    head = ["fault"] + [LABELS[k] for k in clients]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    mark = {"resumed": "R", "reidentified": "I", "not_recovered": "X", "failed": "F"}
    for fault in faults:
        row = [fault]
        for k in clients:
            cell = sorted(
                (s for s in report["samples"] if s["client"] == k and s["fault"] == fault),
                key=lambda s: s["run"],
            )
            row.append(" ".join(
                f"{mark[s['outcome']]}{'' if s['seconds'] is None else format(s['seconds'], '.3f')}"
                for s in cell
            ))  # fmt: skip
        lines.append("| " + " | ".join(row) + " |")
    hyg = report["hygiene"]
    lines += [
        "",
        f"Clean stops: {hyg['clean_stops']}; leftovers after all stopped: "
        f"{len(hyg['leftovers_after_all_stopped'])}; loop errors: {len(hyg['loop_errors'])}; "
        f"non-loopback connects refused: {len(hyg['non_loopback_attempts_refused'])}. "
        f"Settle {report['settle_s']:g} s; whole run {report['elapsed_s']:g} s.",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- entry point


def _csv(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}")
        return [c for c in choices if c in items]

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per cell (median reported)")
    parser.add_argument("--interval-ms", type=int, default=2000, help="heartbeat interval")
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    parser.add_argument(
        "--settle-s", type=float, default=31.0,
        help="idle seconds between ready and the first fault (hikari: > 30)",
    )  # fmt: skip
    parser.add_argument("--faults", type=_csv(tuple(FAULTS)), default=list(FAULTS))
    parser.add_argument("--clients", type=_csv(tuple(CLIENTS)), default=list(CLIENTS))
    parser.add_argument("--seed", type=int, default=0, help="emulator world seed")
    args = parser.parse_args(argv)
    if args.runs < 1 or not 100 <= args.interval_ms <= 60_000 or args.settle_s < 0:
        parser.error("need --runs >= 1, 100 <= --interval-ms <= 60000, --settle-s >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    args = parse_args(argv)
    report = asyncio.run(benchmark(args))
    print(markdown(report))
    if args.json:
        print(json.dumps(report, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
