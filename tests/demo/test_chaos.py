"""``tether chaos``: the pure pieces (recovery arithmetic, RSS growth, invariants, the
catalogue) and a real one-minute run through the CLI, as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tether.demo.chaos import ChaosOptions
from tether.demo.chaos_faults import CHAOS_GROUPS, CHAOS_KINDS, STORMS, parse_chaos_faults
from tether.demo.chaos_report import BurstRecord, ChaosResult, overlap, rss_growth_pct
from tether.demo.faults import Expect
from tether.demo.ledger import Accounting

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "tether.cli"]
REQUIRED = (
    "faults_injected", "delivered", "lost", "duplicated", "stuck", "leaked_tasks",
    "rss_growth_pct", "recovery_median_s", "recovery_max_s",
)  # fmt: skip


class TestArithmetic:
    def test_overlap_is_the_union_clipped_to_the_window(self) -> None:
        assert overlap(0, 10, []) == 0
        assert overlap(0, 10, [(2, 4), (3, 5), (8, 20)]) == pytest.approx(3 + 2)
        assert overlap(5, 6, [(0, 100)]) == pytest.approx(1)
        assert overlap(5, 6, [(6, 7), (1, 5)]) == 0

    def test_rss_growth_compares_the_last_quartile_to_the_first_after_warm_up(self) -> None:
        flat = [(float(t), 100) for t in range(40)]
        assert rss_growth_pct(flat, warmup_until=0) == 0
        rising = [(float(t), 100 + t) for t in range(40)]
        # after t=8: 32 samples; quartiles of 8: medians 111.5 and 135.5
        assert rss_growth_pct(rising, warmup_until=8) == pytest.approx(24 / 111.5 * 100)
        # a spike in the middle does not count; warm-up samples do not count
        spiky = [(0.0, 10), *[(float(t), 100) for t in range(1, 40)]]
        spiky[20] = (20.0, 900)
        assert rss_growth_pct(spiky, warmup_until=1) == 0

    def test_rss_growth_needs_enough_samples(self) -> None:
        assert rss_growth_pct([(float(t), 100) for t in range(7)], warmup_until=0) is None


class TestCatalogue:
    def test_every_kind_has_a_positive_weight_and_an_expectation(self) -> None:
        for kind in CHAOS_KINDS.values():
            assert kind.weight > 0
            assert isinstance(kind.expect, Expect)

    def test_it_covers_the_spec_14_faults_on_a_live_connection(self) -> None:
        wanted = {
            "drop", "black_hole", "reconnect", "invalid_session", "invalid_session_resumable",
            "split_frames", "trickle", "corrupt_zlib", "malformed_json", "delayed_ready",
            "guild_outage", "guild_never_streamed", "expire_session", "drop_acks",
            "delay_acks", "request_heartbeat", "slow_hello", "no_hello",
            "reconnect_before_hello", "oversized", "unknown_opcode", "unknown_dispatch",
            "unknown_fields", "duplicate_dispatch", "close_4000", "close_4009", "close_1000",
        }  # fmt: skip
        assert wanted <= set(CHAOS_KINDS)
        assert set(STORMS) == {"mixed_storm", "reconnect_storm", "invalid_session_storm"}

    def test_parse(self) -> None:
        assert parse_chaos_faults("all") == tuple(CHAOS_KINDS)
        assert parse_chaos_faults("4000, drop") == ("close_4000", "drop")
        assert set(parse_chaos_faults("harmless")) == set(CHAOS_GROUPS["harmless"])
        with pytest.raises(ValueError, match="unknown fault kind"):
            parse_chaos_faults("drop,bogus")
        with pytest.raises(ValueError, match="no fault kind"):
            parse_chaos_faults(" , ")

    def test_replay_command_names_the_seed_and_what_differs(self) -> None:
        options = ChaosOptions(seed=42, duration=30, shards=2, faults=("drop",))
        assert options.replay_command() == (
            "tether chaos --seed 42 --duration 30 --shards 2 --faults drop"
        )


def _accounting(**overrides: Any) -> Accounting:
    values: dict[str, Any] = dict(
        sent=10, delivered=10, lost=0, duplicated=0, gap_events=0, unreported_gaps=0,
        gaps_before_since=0, unexpected=0, lost_ids=[], unreported_ids=[], duplicated_ids=[],
    )  # fmt: skip
    values.update(overrides)
    return Accounting(**values)


def _result(**overrides: Any) -> ChaosResult:
    final = {
        "state_before_stop": "ready", "stopped_cleanly": True, "error": None,
        "leaked_tasks": [], "leaked_threads": [], "token_hits": 0, "errors_logged": 0,
        "asyncio_errors": 0, "log_records": 100, "tasks_alive": 0,
    }  # fmt: skip
    values: dict[str, Any] = dict(
        seed=7,
        replay="tether chaos --seed 7 --duration 60",
        accounting=_accounting(),
        bursts=[
            BurstRecord(
                number=1,
                storm="single",
                kinds=["drop"],
                times=[1.0],
                outcome="resumed",
                expected="resumed",
                recovery_s=0.02,
                active_s=0.01,
            ),
            BurstRecord(
                number=2,
                storm="mixed_storm",
                kinds=["drop", "close_4009"],
                times=[2.0, 2.05],
                outcome="reidentified",
                recovery_s=0.5,
                active_s=0.2,
            ),
        ],
        out_of_order=0,
        session_lost_events=1,
        reidentifies=1,
        resumes=1,
        identifies=2,
        final=final,
        rss=[(float(t), 50 << 20) for t in range(40)],
        warmup_until=5.0,
        max_rss_growth_pct=5.0,
        stderr_token_hits=0,
        child_returncode=0,
        final_ready=True,
        interrupted=False,
        elapsed_s=60.0,
    )
    for key, value in overrides.items():
        if key in final:
            final[key] = value
        else:
            values[key] = value
    return ChaosResult(**values)


class TestInvariants:
    def test_a_clean_run_passes_and_reports_every_required_key(self) -> None:
        result = _result()
        assert result.failures() == []
        data = result.as_dict()
        assert set(REQUIRED) <= set(data)
        assert data["faults_injected"] == 3
        assert data["recovery_median_s"] == pytest.approx(0.105)
        assert data["recovery_max_s"] == pytest.approx(0.2)
        assert data["recoveries"] == {"reidentified": 1, "resumed": 1}
        assert data["ok"] is True
        json.dumps(data)

    @pytest.mark.parametrize(
        ("override", "words"),
        [
            ({"accounting": _accounting(lost=1, lost_ids=[5])}, "lost"),
            ({"accounting": _accounting(duplicated=2, duplicated_ids=[5, 6])}, "duplicated"),
            ({"out_of_order": 1}, "out of order"),
            ({"accounting": _accounting(unreported_gaps=1, unreported_ids=[9])}, "SessionLost"),
            ({"session_lost_events": 0}, "SessionLost"),
            ({"leaked_tasks": ["tether reader (shard 0)"]}, "left after stop"),
            ({"leaked_threads": ["tether io"]}, "left after stop"),
            ({"token_hits": 1}, "token"),
            ({"stderr_token_hits": 1}, "token"),
            ({"errors_logged": 2}, "ERROR"),
            ({"asyncio_errors": 1}, "escaped"),
            ({"stopped_cleanly": False}, "stop cleanly"),
            ({"final_ready": False}, "not READY"),
            ({"rss": [(float(t), (50 << 20) + t * (1 << 20)) for t in range(40)]}, "RSS"),
            ({"child_returncode": 3}, "exited"),
            ({"final": {}}, "no final report"),
        ],
    )
    def test_each_violation_fails_the_run(self, override: dict[str, Any], words: str) -> None:
        result = _result(**override)
        assert any(words in problem for problem in result.failures()), result.failures()
        assert result.exit_code() == 1
        assert "replay" in result.summary_lines()[-1]

    def test_a_stuck_burst_and_an_unexpected_single_outcome_fail(self) -> None:
        result = _result()
        result.bursts.append(BurstRecord(number=3, storm="single", kinds=["close_4000"],
                                         times=[3.0], outcome="reidentified",
                                         expected="resumed"))  # fmt: skip
        result.bursts.append(BurstRecord(number=4, storm="reconnect_storm", outcome="stuck"))
        problems = " ".join(result.failures())
        assert "stuck" in problems
        assert "#3 close_4000: reidentified" in problems


# --------------------------------------------------------------------------- the real run


def _run(
    args: list[str], timeout: float
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run(
        [*CLI, "chaos", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr[-2000:]
    return proc, json.loads(lines[-1])


def test_a_one_minute_chaos_run_keeps_every_invariant() -> None:
    """About 60 s at seed 1: hundreds of faults and storms, every invariant checked."""
    proc, report = _run(
        ["--duration", "60", "--seed", "1", "--json", "--status-every", "0"], timeout=240
    )
    context = "\n".join(proc.stdout.strip().splitlines()[-12:-1]) + proc.stderr[-2000:]
    assert proc.returncode == 0, context
    assert report["ok"] is True and report["failures"] == [], context
    assert set(REQUIRED) <= set(report)
    assert report["faults_injected"] >= 150, context
    assert len(report["faults_by_kind"]) >= 25, report["faults_by_kind"]
    assert set(report["bursts_by_storm"]) >= {"single", "mixed_storm"}
    assert report["lost"] == 0
    assert report["duplicated"] == 0
    assert report["out_of_order"] == 0
    assert report["unreported_gaps"] == 0
    assert report["stuck"] == 0
    assert report["leaked_tasks"] == 0
    assert report["token_in_logs"] == 0
    assert report["session_lost_events"] == report["reidentifies"] > 0
    assert report["resumes"] > 0
    assert report["delivered"] + report["lost"] + report["gap_events"] == report["sent"]
    assert report["recovery_median_s"] < 1.0
    assert report["recovery_max_s"] >= report["recovery_median_s"]
    assert report["rss_growth_pct"] is not None and report["rss_growth_pct"] < 5.0


def test_a_violated_invariant_exits_non_zero_with_the_seed_to_replay() -> None:
    # A bound no recovery can meet: every burst is "stuck".
    proc, report = _run(
        ["--duration", "3", "--seed", "9", "--json", "--status-every", "0",
         "--stuck-after", "0.001", "--faults", "close_4000"],
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert report["ok"] is False
    assert report["stuck"] > 0
    assert report["replay"].startswith("tether chaos --seed 9 --duration 3")
    assert "replay     tether chaos --seed 9" in proc.stdout
