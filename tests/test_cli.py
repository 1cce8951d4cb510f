"""The ``tether`` command, run as a real subprocess: ``tether demo`` and ``tether emulator``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tether.cli import main
from tether.demo import ALL_KINDS, KINDS, parse_fault_list

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "tether.cli"]


def test_demo_runs_faults_and_accounts_for_every_message() -> None:
    proc = subprocess.run(
        [*CLI, "demo", "--duration", "12", "--json", "--rate", "30", "--seed", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=40,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr
    summary = json.loads(lines[-1])
    context = f"stdout tail:\n{chr(10).join(lines[-30:-1])}\nstderr:\n{proc.stderr[-2000:]}"
    assert proc.returncode == 0, context
    assert summary["ok"] is True and summary["failures"] == [], context
    assert summary["delivered"] > 0
    assert summary["lost"] == 0
    assert summary["duplicated"] == 0
    assert summary["unreported_gaps"] == 0
    assert summary["stuck"] == 0
    assert summary["faults_injected"] > 0
    assert summary["final_state"] == "ready"
    assert summary["stopped_cleanly"] is True
    # the accounting adds up, and the schedule reached both recovery paths
    assert summary["delivered"] + summary["lost"] + summary["gap_events"] == summary["sent"]
    assert sum(summary["faults_by_kind"].values()) == summary["faults_injected"]
    assert set(summary["faults_by_kind"]) <= set(ALL_KINDS)
    assert summary["resumes"] >= 1 and summary["reidentifies"] >= 1
    assert summary["session_lost_events"] == summary["reidentifies"]
    assert summary["ready_events"] == summary["reidentifies"] + 1
    assert summary["recovery_max_s"] >= summary["recovery_median_s"] >= 0
    # every "!ping" that reached the bot got its "pong" over REST, recorded by the emulator
    replies = summary["replies"]
    assert replies["pings_sent"] > 0 and replies["pings_delivered"] > 0
    assert replies["pongs_sent"] == replies["pongs_recorded"] == replies["pings_delivered"]
    assert replies["pings_unanswered"] == 0 and replies["pong_errors"] == {}
    assert replies["rest_429"] == 0
    # plain text for humans above the JSON: live status and the summary, no ANSI codes
    assert any("fault #1 " in line for line in lines)
    assert any("RESULT     OK" in line for line in lines)
    assert "\x1b" not in proc.stdout


async def _read_until(stream: asyncio.StreamReader, marker: str, timeout: float) -> list[str]:
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while not lines or marker not in lines[-1]:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"output ended before {marker!r}: {lines}")
            lines.append(raw.decode().rstrip("\n"))
    return lines


@pytest.mark.skipif(os.name == "nt", reason="SIGINT to a child process is POSIX-only")
async def test_emulator_command_serves_until_sigint() -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "emulator", "--guilds", "2", "--seed", "4",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = await _read_until(proc.stdout, "Press Ctrl-C", timeout=15)

        def value(label: str) -> str:
            [found] = [line for line in lines if line.startswith(f"  {label} ")]
            return found.removeprefix(f"  {label} ").strip()

        api, gateway, control = value("REST API"), value("gateway"), value("control API")
        assert api.startswith("http://127.0.0.1:") and api.endswith("/api/v10")
        base = api.removesuffix("api/v10")
        assert gateway == base.replace("http://", "ws://")
        assert control == base + "_emulator/"
        assert value("token").count(".") == 2
        async with aiohttp.ClientSession() as http, http.get(f"{api}/gateway") as response:
            assert response.status == 200
            assert (await response.json())["url"] == gateway
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err.decode()
        assert "tether emulator stopped" in out.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_emulator_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "--host", "0.0.0.0"])
    assert exit_info.value.code == 2
    assert "not a loopback address" in capsys.readouterr().err


def test_fault_lists_accept_kinds_groups_and_bare_close_codes() -> None:
    assert parse_fault_list("all") == ALL_KINDS
    assert parse_fault_list("none") == ()
    assert parse_fault_list("4009, drop,close-4000") == ("close_4000", "drop", "close_4009")
    reidentify = parse_fault_list("reidentify")
    assert set(reidentify) == {"invalid_session", "close_4003", "close_4007", "close_4009"}
    assert all(KINDS[k].expect.value == "harmless" for k in parse_fault_list("harmless"))
    with pytest.raises(ValueError, match="unknown fault kind 'nope'"):
        parse_fault_list("drop,nope")


def test_demo_rejects_an_unknown_fault_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--faults", "close_4000,bogus"])
    assert exit_info.value.code == 2
    assert "unknown fault kind 'bogus'" in capsys.readouterr().err
