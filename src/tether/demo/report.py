"""The demo's records and its plain-text and JSON output (no ANSI, no dependencies)."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tether.demo.faults import Expect
from tether.demo.ledger import Accounting

__all__ = ["DemoResult", "FaultRecord", "format_seconds", "status_line"]

#: Outcomes that mean the fault's outage ended (they have a recovery time).
_RECOVERED = ("resumed", "reidentified")
_EXPECTED_OUTCOME = {
    Expect.RESUME: "resumed",
    Expect.REIDENTIFY: "reidentified",
    Expect.HARMLESS: "survived",
}


def format_seconds(seconds: float) -> str:
    """``4 ms``, ``0.4 ms`` or ``2.67 s``: short and readable."""
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


@dataclass(slots=True, kw_only=True)
class FaultRecord:
    """One injected fault and how the bot came back from it.

    ``outcome`` is ``pending``, ``resumed``, ``reidentified``, ``survived`` (harmless),
    ``stuck``, ``skipped`` (no connection to inject into) or ``interrupted``. ``window`` is
    the ``[since, until]`` of the ``SessionLost`` it caused, if any.
    """

    number: int
    kind: str
    expect: Expect
    injected_at: float
    outcome: str = "pending"
    detail: str = "recovering"
    recovery_s: float | None = None
    replayed: int | None = None
    window: tuple[float, float] | None = None
    as_expected: bool = True

    def finish(self, outcome: str, detail: str, recovery_s: float | None) -> None:
        """Record how the fault ended."""
        self.outcome = outcome
        self.detail = detail
        self.recovery_s = recovery_s
        if outcome in _EXPECTED_OUTCOME.values() and outcome != _EXPECTED_OUTCOME[self.expect]:
            self.as_expected = False

    def summary(self, now: float | None = None) -> str:
        """``resumed (replayed 3) in 0.12 s``, or ``recovering for 1.5 s``."""
        if self.outcome == "pending":
            running = "" if now is None else f" for {now - self.injected_at:.1f} s"
            return f"recovering{running}"
        text = self.detail
        if self.recovery_s is not None:
            text += f" in {format_seconds(self.recovery_s)}"
        if not self.as_expected:
            text += f" [expected: {_EXPECTED_OUTCOME[self.expect]}]"
        return text

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "n": self.number,
            "kind": self.kind,
            "expected": _EXPECTED_OUTCOME[self.expect],
            "outcome": self.outcome,
            "replayed": self.replayed,
            "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 4),
            "as_expected": self.as_expected,
        }


def status_line(
    *,
    state: str,
    latency_ms: float | None,
    sent: int,
    delivered: int,
    queue: int,
    faults: int,
    last: FaultRecord | None,
    now: float,
    pongs: int | None = None,
) -> str:
    """One line of live status."""
    latency = "  -  " if latency_ms is None else f"{latency_ms:5.1f}"
    text = (
        f"{state:<20} latency {latency} ms  sent {sent:6d}  delivered {delivered:6d}  "
        f"queue {queue:4d}  faults {faults:3d}"
    )
    if pongs is not None:
        text += f"  pongs {pongs:4d}"
    if last is not None:
        text += f"  last: #{last.number} {last.kind} {last.summary(now)}"
    return text


@dataclass(slots=True, kw_only=True)
class DemoResult:
    """Everything the demo found out, ready to print."""

    options_text: str
    accounting: Accounting
    faults: list[FaultRecord]
    resumes: int
    reidentifies: int
    ready_events: int
    session_lost_events: int
    final_state: str
    stopped_cleanly: bool
    interrupted: bool
    elapsed_s: float
    settings: dict[str, Any] = field(default_factory=dict)
    replies: dict[str, Any] = field(default_factory=dict)

    @property
    def injected(self) -> list[FaultRecord]:
        """Faults that were actually injected (not skipped, not the startup check)."""
        return [f for f in self.faults if f.number > 0 and f.outcome != "skipped"]

    @property
    def stuck(self) -> int:
        """Faults (or the startup) the bot did not recover from in time."""
        return sum(1 for f in self.faults if f.outcome == "stuck")

    def recovery_times(self) -> list[float]:
        """Recovery times of the faults that took the connection down."""
        return [
            f.recovery_s
            for f in self.faults
            if f.outcome in _RECOVERED and f.recovery_s is not None
        ]

    def failures(self) -> list[str]:
        """Why the run failed (empty: it passed)."""
        acc = self.accounting
        problems = []
        if acc.lost:
            problems.append(f"{acc.lost} message(s) lost (e.g. ids {acc.lost_ids[:5]})")
        if acc.duplicated:
            problems.append(
                f"{acc.duplicated} message(s) duplicated (e.g. {acc.duplicated_ids[:5]})"
            )
        if acc.unreported_gaps:
            problems.append(
                f"{acc.unreported_gaps} gap event(s) outside every reported SessionLost window "
                f"(e.g. ids {acc.unreported_ids[:5]})"
            )
        if self.stuck:
            problems.append(f"{self.stuck} fault(s) stuck (no recovery in time)")
        unexpected = [f for f in self.injected if not f.as_expected]
        if unexpected:
            names = ", ".join(f"#{f.number} {f.kind}: {f.outcome}" for f in unexpected[:5])
            problems.append(f"{len(unexpected)} fault(s) not recovered as expected ({names})")
        problems.extend(self._reply_failures())
        if self.final_state != "ready":
            problems.append(f"final state was {self.final_state!r}, not 'ready', before the stop")
        if not self.stopped_cleanly:
            problems.append("the client did not stop cleanly")
        return problems

    def _reply_failures(self) -> list[str]:
        r = self.replies
        problems = []
        if r.get("pings_unanswered"):
            problems.append(f"{r['pings_unanswered']} ping(s) delivered to the bot got no pong")
        if r.get("rest_429"):
            problems.append(f"{r['rest_429']} REST answer(s) were 429 (a rate limit was hit)")
        errors = r.get("pong_errors") or {}
        if errors:
            kinds = ", ".join(f"{n} {name}" for name, n in sorted(errors.items()))
            problems.append(f"{sum(errors.values())} pong(s) failed ({kinds})")
        return problems

    def exit_code(self) -> int:
        """0 when every check passed, 1 otherwise."""
        return 1 if self.failures() else 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary (one object; the CLI prints it as the last line)."""
        times = self.recovery_times()
        injected = self.injected
        return {
            **self.accounting.as_dict(),
            "faults_injected": len(injected),
            "faults_by_kind": dict(sorted(Counter(f.kind for f in injected).items())),
            "faults_by_outcome": dict(sorted(Counter(f.outcome for f in injected).items())),
            "unexpected_outcomes": sum(1 for f in injected if not f.as_expected),
            "resumes": self.resumes,
            "reidentifies": self.reidentifies,
            "ready_events": self.ready_events,
            "session_lost_events": self.session_lost_events,
            "final_state": self.final_state,
            "stopped_cleanly": self.stopped_cleanly,
            "recovery_median_s": round(statistics.median(times), 4) if times else None,
            "recovery_max_s": round(max(times), 4) if times else None,
            "stuck": self.stuck,
            "interrupted": self.interrupted,
            "elapsed_s": round(self.elapsed_s, 3),
            **self.settings,
            "ok": not self.failures(),
            "failures": self.failures(),
            "faults": [f.as_dict() for f in self.faults],
            "replies": self.replies,
        }

    def _reply_lines(self) -> list[str]:
        r = self.replies
        if not r:
            return []
        failed = sum((r.get("pong_errors") or {}).values())
        return [
            f"  replies    {r['pings_sent']} '!ping' sent, {r['pings_delivered']} reached the "
            f"bot, {r['pongs_sent']} answered 'pong' over REST ({r['pongs_recorded']} "
            f"recorded by the emulator, {r['pongs_echoed']} back as MESSAGE_CREATE); "
            f"{r['pings_unanswered']} unanswered, {failed} failed",
            f"  rest       {r['rest_calls']} calls, {r['rest_429']} answered 429",
        ]

    def summary_lines(self) -> list[str]:
        """The human summary printed at the end of the demo."""
        acc = self.accounting
        times = self.recovery_times()
        injected = self.injected
        outcomes = Counter(f.outcome for f in injected)
        lines = [
            "",
            f"tether demo summary ({self.options_text}; ran {self.elapsed_s:.1f} s"
            + (", interrupted)" if self.interrupted else ")"),
            f"  messages   sent {acc.sent}, delivered {acc.delivered}, lost {acc.lost}, "
            f"duplicated {acc.duplicated}",
            f"  gaps       {acc.gap_events} event(s) that Discord would not replay either: "
            f"{acc.gap_events - acc.unreported_gaps} inside a reported SessionLost window"
            + (
                f" ({acc.gaps_before_since} sent while the bot's last event was in flight)"
                if acc.gaps_before_since
                else ""
            )
            + f", {acc.unreported_gaps} outside",
            *self._reply_lines(),
            f"  faults     {len(injected)} injected: {outcomes['resumed']} resumed, "
            f"{outcomes['reidentified']} re-identified, {outcomes['survived']} survived "
            f"(harmless), {self.stuck} stuck",
        ]
        if times:
            lines.append(
                f"  recovery   median {format_seconds(statistics.median(times))}, max "
                f"{format_seconds(max(times))} over {len(times)} outage(s)"
            )
        lines.append(
            f"  sessions   {self.ready_events} Ready, {self.resumes} Resumed, "
            f"{self.reidentifies} re-identified, {self.session_lost_events} SessionLost"
        )
        if injected:
            lines.append("  by fault:")
            for f in injected:
                gaps = ""
                if f.window is not None:
                    gaps = f"; {acc.gaps_within(*f.window)} gap event(s) in the window"
                lines.append(f"    #{f.number:<3} {f.kind:<26} {f.summary()}{gaps}")
        lines.append(
            f"  final      state {self.final_state} before the stop; client stopped "
            + ("cleanly" if self.stopped_cleanly else "NOT cleanly")
        )
        problems = self.failures()
        lines.append("  RESULT     " + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
        return lines
