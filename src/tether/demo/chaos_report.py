"""``tether chaos`` results: bursts, the invariants they must satisfy, and the JSON report.

Pure code over plain records. A burst is one fault, or a storm of several drawn in a short
time; after each burst the runner waits until the client is READY again (and a marker
dispatched afterwards reached it). Its recovery time runs from the last fault injected
before that READY to the READY itself; the *active* recovery leaves out the waits the
client makes on purpose (reconnect backoff, the op 9 wait, identify pacing).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.demo.ledger import Accounting

__all__ = ["BurstRecord", "ChaosResult", "overlap", "rss_growth_pct"]

_EXAMPLES = 10
_MB = 1024 * 1024


@dataclass(slots=True, kw_only=True)
class BurstRecord:
    """One burst and how the client came back from it.

    ``storm`` is ``single`` or the storm's name; ``outcome`` is ``resumed``,
    ``reidentified``, ``survived`` (no disconnect), ``stuck`` or ``skipped`` (no fault hit a
    connection); ``expected`` is set for single faults only.
    """

    number: int
    storm: str
    kinds: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    outcome: str = "pending"
    expected: str | None = None
    recovery_s: float | None = None
    active_s: float | None = None
    detail: str = ""

    @property
    def as_expected(self) -> bool:
        """A single fault recovered the way its kind promises (storms: always True)."""
        return self.expected is None or self.outcome in (self.expected, "skipped")


def overlap(start: float, end: float, intervals: Iterable[tuple[float, float]]) -> float:
    """Seconds of ``[start, end]`` covered by the union of ``intervals``."""
    covered = 0.0
    cursor = start
    for a, b in sorted((max(a, start), min(b, end)) for a, b in intervals):
        if b <= cursor:
            continue
        covered += b - max(a, cursor)
        cursor = b
    return covered


def rss_growth_pct(samples: Sequence[tuple[float, int]], warmup_until: float) -> float | None:
    """Growth over the run: (last-quartile median - first-quartile median) / first, in %.

    For RSS samples, and for any other level sampled over time (Python blocks alive).

    Samples before ``warmup_until`` are left out; None when fewer than 8 remain.
    """
    values = [rss for t, rss in samples if t >= warmup_until]
    if len(values) < 8:
        return None
    quarter = len(values) // 4
    first = statistics.median(values[:quarter])
    last = statistics.median(values[-quarter:])
    return (last - first) / first * 100.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def _max(values: list[float]) -> float | None:
    return round(max(values), 4) if values else None


@dataclass(slots=True, kw_only=True)
class ChaosResult:
    """Everything a chaos run found out."""

    seed: int
    replay: str
    accounting: Accounting
    bursts: list[BurstRecord]
    out_of_order: int
    session_lost_events: int
    reidentifies: int
    resumes: int
    identifies: int
    final: dict[str, Any]
    rss: list[tuple[float, int]]
    warmup_until: float
    max_rss_growth_pct: float
    stderr_token_hits: int
    child_returncode: int | None
    final_ready: bool
    interrupted: bool
    elapsed_s: float
    settings: dict[str, Any] = field(default_factory=dict)
    blocks: list[tuple[float, int]] = field(default_factory=list)

    # figures ------------------------------------------------------------------------------

    @property
    def injected(self) -> list[tuple[str, float]]:
        """``(kind, time)`` of every fault that hit something."""
        return [(k, t) for b in self.bursts for k, t in zip(b.kinds, b.times, strict=True)]

    @property
    def stuck(self) -> int:
        """Bursts after which the client was not READY again within the bound."""
        return sum(1 for b in self.bursts if b.outcome == "stuck")

    @property
    def rss_growth(self) -> float | None:
        """See :func:`rss_growth_pct`."""
        return rss_growth_pct(self.rss, self.warmup_until)

    def leaked(self) -> list[str]:
        """tether tasks and threads alive after stop()."""
        return [*self.final.get("leaked_tasks", []), *self.final.get("leaked_threads", [])]

    def _recoveries(self, attr: str) -> list[float]:
        return [v for b in self.bursts if (v := getattr(b, attr)) is not None]

    def failures(self) -> list[str]:
        """Every violated invariant (empty: the run passed)."""
        acc, final = self.accounting, self.final
        problems = []
        if acc.lost:
            problems.append(f"{acc.lost} event(s) lost (e.g. ids {acc.lost_ids[:5]})")
        if acc.duplicated:
            problems.append(f"{acc.duplicated} event(s) duplicated ({acc.duplicated_ids[:5]})")
        if self.out_of_order:
            problems.append(f"{self.out_of_order} event(s) handed over out of order")
        if acc.unreported_gaps:
            problems.append(
                f"{acc.unreported_gaps} gap event(s) outside every SessionLost window "
                f"(e.g. ids {acc.unreported_ids[:5]})"
            )
        if self.session_lost_events != self.reidentifies:
            problems.append(
                f"{self.reidentifies} re-identif(ies) but {self.session_lost_events} SessionLost"
            )
        if self.stuck:
            problems.append(f"{self.stuck} burst(s) stuck (not READY again within the bound)")
        unexpected = [b for b in self.bursts if not b.as_expected]
        if unexpected:
            names = ", ".join(f"#{b.number} {b.kinds[0]}: {b.outcome}" for b in unexpected[:5])
            problems.append(f"{len(unexpected)} single fault(s) not recovered as expected "
                            f"({names})")  # fmt: skip
        if not self.final_ready:
            problems.append("the client was not READY at the end")
        problems.extend(self._process_failures(final))
        growth = self.rss_growth
        if growth is not None and growth > self.max_rss_growth_pct:
            problems.append(f"RSS grew {growth:.1f}% (limit {self.max_rss_growth_pct:g}%)")
        return problems

    def _process_failures(self, final: dict[str, Any]) -> list[str]:
        problems = []
        if not final:
            problems.append(
                f"the client process gave no final report (exit {self.child_returncode})"
            )
            return problems
        if final.get("error"):
            problems.append(f"the client stopped with an error: {final['error']}")
        if not final.get("stopped_cleanly"):
            problems.append("the client did not stop cleanly")
        if self.leaked():
            problems.append(f"tasks/threads left after stop(): {self.leaked()[:5]}")
        hits = final.get("token_hits", 0) + self.stderr_token_hits
        if hits:
            problems.append(f"the token appeared in {hits} log record(s)/line(s)")
        if final.get("errors_logged"):
            problems.append(
                f"{final['errors_logged']} ERROR log record(s), e.g. "
                f"{final.get('error_examples', [])[:2]}"
            )
        if final.get("asyncio_errors"):
            problems.append(f"{final['asyncio_errors']} exception(s) escaped to the event loop")
        if self.child_returncode not in (0, None):
            problems.append(f"the client process exited with {self.child_returncode}")
        return problems

    def exit_code(self) -> int:
        """0 when every invariant held, 1 otherwise."""
        return 1 if self.failures() else 0

    # output -------------------------------------------------------------------------------

    def _by_kind(self) -> dict[str, dict[str, Any]]:
        """Per fault kind, for faults that came alone: outcomes and recovery figures."""
        grouped: dict[str, list[BurstRecord]] = defaultdict(list)
        for b in self.bursts:
            if b.storm == "single" and b.kinds:
                grouped[b.kinds[0]].append(b)
        table = {}
        for kind, bursts in sorted(grouped.items()):
            active = [b.active_s for b in bursts if b.active_s is not None]
            table[kind] = {
                **dict(sorted(Counter(b.outcome for b in bursts).items())),
                "recovery_median_s": _median(active),
                "recovery_max_s": _max(active),
            }
        return table

    def as_dict(self) -> dict[str, Any]:
        """The JSON report (the CLI prints it as the last line)."""
        acc, final = self.accounting, self.final
        active, wall = self._recoveries("active_s"), self._recoveries("recovery_s")
        rss = [r for _t, r in self.rss]
        growth = self.rss_growth
        problems = self.failures()
        return {
            "ok": not problems,
            "seed": self.seed,
            "faults_injected": len(self.injected),
            "faults_by_kind": dict(sorted(Counter(k for k, _t in self.injected).items())),
            "bursts": len(self.bursts),
            "bursts_by_storm": dict(sorted(Counter(b.storm for b in self.bursts).items())),
            "recoveries": dict(sorted(Counter(b.outcome for b in self.bursts).items())),
            "recoveries_by_kind": self._by_kind(),
            "recovery_median_s": _median(active),
            "recovery_max_s": _max(active),
            "recovery_wall_median_s": _median(wall),
            "recovery_wall_max_s": _max(wall),
            "recovery_excludes": "reconnect backoff, op 9 wait and identify pacing",
            **acc.as_dict(),
            "out_of_order": self.out_of_order,
            "stuck": self.stuck,
            "identifies": self.identifies,
            "resumes": self.resumes,
            "reidentifies": self.reidentifies,
            "session_lost_events": self.session_lost_events,
            "leaked_tasks": len(self.leaked()),
            "tasks_alive": final.get("tasks_alive"),
            "rss_start_mb": round(rss[0] / _MB, 1) if rss else None,
            "rss_peak_mb": round(max(rss) / _MB, 1) if rss else None,
            "rss_end_mb": round(rss[-1] / _MB, 1) if rss else None,
            "rss_growth_pct": None if growth is None else round(growth, 2),
            "py_blocks_growth_pct": _round(rss_growth_pct(self.blocks, self.warmup_until)),
            "log_records": final.get("log_records"),
            "token_in_logs": final.get("token_hits", 0) + self.stderr_token_hits,
            "errors_logged": final.get("errors_logged"),
            "final_state": final.get("state_before_stop"),
            "stopped_cleanly": final.get("stopped_cleanly"),
            "interrupted": self.interrupted,
            "elapsed_s": round(self.elapsed_s, 1),
            "settings": self.settings,
            "failures": problems,
            "failed_bursts": [
                {"n": b.number, "storm": b.storm, "kinds": b.kinds, "outcome": b.outcome,
                 "expected": b.expected, "detail": b.detail}
                for b in self.bursts if not b.as_expected or b.outcome == "stuck"
            ][:_EXAMPLES],
            "replay": self.replay,
        }  # fmt: skip

    def summary_lines(self) -> list[str]:
        """The human summary printed before the JSON line."""
        data = self.as_dict()
        acc = self.accounting

        def secs(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"

        outcomes = ", ".join(f"{n} {k}" for k, n in data["recoveries"].items())
        pct = data["rss_growth_pct"]
        growth = "not measured: too few samples after warm-up" if pct is None else f"{pct}%"
        lines = [
            "",
            f"tether chaos summary (seed {self.seed}; ran {self.elapsed_s:.1f} s"
            + (", interrupted)" if self.interrupted else ")"),
            f"  faults     {data['faults_injected']} injected in {data['bursts']} burst(s) "
            f"({', '.join(f'{n} {k}' for k, n in data['bursts_by_storm'].items())})",
            f"  recovery   {outcomes}; median {secs(data['recovery_median_s'])}, max "
            f"{secs(data['recovery_max_s'])} (without deliberate waits; wall: median "
            f"{secs(data['recovery_wall_median_s'])}, max {secs(data['recovery_wall_max_s'])})",
            f"  events     sent {acc.sent}, delivered {acc.delivered}, lost {acc.lost}, "
            f"duplicated {acc.duplicated}, out of order {self.out_of_order}, gaps "
            f"{acc.gap_events} ({acc.unreported_gaps} unreported)",
            f"  sessions   {data['identifies']} IDENTIFY, {data['resumes']} resumed, "
            f"{self.reidentifies} re-identified, {self.session_lost_events} SessionLost",
            f"  process    RSS {data['rss_start_mb']} -> {data['rss_end_mb']} MB (peak "
            f"{data['rss_peak_mb']}, growth {growth}), "
            f"{data['leaked_tasks']} leaked task(s)/thread(s), {data['log_records']} log "
            f"records, token seen {data['token_in_logs']} time(s)",
        ]
        problems = data["failures"]
        lines.append("  RESULT     " + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
        if problems:
            lines.append(f"  replay     {self.replay}")
        return lines
