"""bench/firehose.py and bench/throughput.py: the stream is what the benchmark says it is,
and a small run of the whole benchmark works end to end (every client kind, the JSON)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

from tether.wire.compression import make_inflater

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def ws_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Parse unmasked server frames: (opcode, payload)."""
    out, pos = [], 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        assert first & 0x80 and not second & 0x80  # final, unmasked
        size, pos = second & 0x7F, pos + 2
        if size == 126:
            size, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
        elif size == 127:
            size, pos = int.from_bytes(data[pos : pos + 8], "big"), pos + 8
        out.append((first & 0x0F, data[pos : pos + size]))
        pos += size
    return out


@pytest.fixture(scope="module")
def firehose() -> ModuleType:
    return load("firehose")


@pytest.fixture(scope="module")
def streams(firehose: ModuleType) -> dict[str, Any]:
    import asyncio

    world = asyncio.run(firehose.capture(2, 12, 1))
    return dict(
        firehose.build(
            world,
            list(firehose.MODES),
            400,
            seed=3,
            url="ws://127.0.0.1:1/resume",
            heartbeat_ms=600_000,
        )
    )


@pytest.mark.parametrize("mode", ["zlib-stream", "zstd-stream", "none"])
def test_one_connection_decodes_in_order(streams: dict[str, Any], mode: str) -> None:
    stream = streams[mode]
    frames = ws_frames(stream.hello + b"".join(stream.chunks) + b"".join(stream.acks))
    assert {op for op, _ in frames} == ({0x1} if mode == "none" else {0x2})
    inflater = make_inflater(None if mode == "none" else mode, 1 << 24)
    payloads = []
    for _op, data in frames:
        raw = data if inflater is None else inflater.feed(data)
        assert raw is not None
        payloads.append(msgspec.json.decode(raw))
    hello, ready, *rest = payloads
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 600_000
    assert ready["t"] == "READY" and ready["s"] == 1
    assert ready["d"]["resume_gateway_url"] == "ws://127.0.0.1:1/resume"
    guilds = [p for p in rest if p.get("t") == "GUILD_CREATE"]
    messages = [p for p in rest if p.get("t") == "MESSAGE_CREATE"]
    acks = [p for p in rest if p["op"] == 11]
    assert len(guilds) == len(ready["d"]["guilds"]) == 2
    assert len(messages) == 400 and len(acks) == len(stream.acks)
    assert [p["s"] for p in guilds + messages] == list(range(2, 2 + 2 + 400))
    assert stream.messages[0] == (frames[1 + 1 + 2][1])  # the limit's bytes are the socket's


def test_messages_are_a_realistic_mix(streams: dict[str, Any]) -> None:
    stream = streams["none"]
    bodies = [msgspec.json.decode(m)["d"] for m in stream.messages]
    sizes = sorted(len(m) for m in stream.messages)
    assert sizes[len(sizes) // 2] > 600  # author, member and flags even for a short line
    assert sizes[len(sizes) * 9 // 10] > 2 * sizes[len(sizes) // 2]
    assert any(b["embeds"] for b in bodies)
    assert any(b["mentions"] for b in bodies)
    assert any(b["attachments"] for b in bodies)
    assert any(b.get("referenced_message") for b in bodies)
    ids = [int(b["id"]) for b in bodies]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    zlib_mean = streams["zlib-stream"].sizes["wire_mean"]
    assert 3 < stream.sizes["json_mean"] / zlib_mean < 12  # compresses like real traffic
    assert zlib.decompressobj().decompress(streams["zlib-stream"].prelude[0]).startswith(b"{")


def test_a_small_run_of_every_kind(tmp_path: Path) -> None:
    rows = "tether_zlib_cache,tether_zstd_nocache,discordpy_zlib,hikari,limit_zlib"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "throughput.py"),
            "--events",
            "300",
            "--runs",
            "1",
            "--rows",
            rows,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    for key in (
        "tether_eps",
        "limit_eps",
        "discordpy_eps",
        "hikari_eps",
        "ratio_limit",
        "ratio_discordpy",
        "ratio_hikari",
    ):
        assert isinstance(report[key], (int, float)) and report[key] > 0, key
    # --rows matches key prefixes: tether_zlib_cache brings tether_zlib_cache_noio too.
    expected = {*rows.replace("hikari", "hikari_zlib").split(","), "tether_zlib_cache_noio"}
    assert set(report["rows"]) == expected
    for key, row in report["rows"].items():
        assert row["status"] == "ok", (key, row["status"])
        if row["client"] != "limit":
            hygiene = row["hygiene"]
            assert not hygiene["leftovers"] and not hygiene["loop_errors"], (key, hygiene)
            assert not hygiene["non_loopback"], (key, hygiene)
    connections = report["firehose_connections"]
    assert connections["count"] == 5 and connections["resumes"] == 0
    assert connections["by_mode"] == {"zlib-stream": 4, "zstd-stream": 1}


def test_hotpath_stages(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "hotpath.py"), "--events", "300", "--repeat", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    stages = json.loads(proc.stdout.splitlines()[-1])["us_per_event"]
    assert list(stages) == ["limit", "inflate", "envelope", "protocol", "cache", "dispatch"]
    assert all(value > 0 for value in stages.values())
