"""bench/shards.py: one process runs many shards against the emulator.

Reports the time from ``start()`` until every shard is ready, and the CPU the client process
uses at idle (heartbeats only) afterwards. The emulator runs in its own process (the
``tether emulator`` CLI), so its work is not counted; identify pacing is Discord's (5 s per
bucket) with ``max_concurrency`` 16, as Discord gives large bots.

    python bench/shards.py [--shards 100] [--guilds 500] [--idle 60] [--json]

With ``--json`` the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import sys
import time
from typing import Any

import aiohttp

import tether


async def start_emulator(guilds: int) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Start ``tether emulator`` in a child process; return it and its URLs and token."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tether.cli",
        "emulator",
        "--port",
        "0",
        "--guilds",
        str(guilds),
        "--quiet",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    info: dict[str, str] = {}
    async with asyncio.timeout(60):
        while len(info) < 3:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError("the emulator exited before printing its URLs")
            for key, pattern in (
                ("api", r"REST API\s+(\S+)"),
                ("control", r"control API\s+(\S+)"),
                ("token", r"token\s+(\S+)"),
            ):
                match = re.search(pattern, line)
                if match:
                    info[key] = match.group(1)
    return proc, info


def cpu_seconds() -> float:
    """User + system CPU time of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(args: argparse.Namespace) -> dict[str, Any]:
    proc, info = await start_emulator(args.guilds)
    try:
        async with aiohttp.ClientSession() as http:
            config = {"max_concurrency": 16, "shards": args.shards, "identify_window_s": 5.0}
            async with http.post(info["control"].rstrip("/") + "/config", json=config) as resp:
                resp.raise_for_status()
        client = tether.Client(
            info["token"],
            api_url=info["api"],
            shards=args.shards,
            intents=tether.Intents.GUILDS,
            guild_ready_timeout=5.0,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.start()
        await client.wait_until_ready(timeout=args.shards * 2 + 120)
        ready_s = loop.time() - started
        cpu_before, wall_before = cpu_seconds(), loop.time()
        await asyncio.sleep(args.idle)  # the measurement itself: idle time, heartbeats only
        cpu_idle = cpu_seconds() - cpu_before
        wall_idle = loop.time() - wall_before
        states = {s.state.value for s in client.shards.values()}
        await client.stop()
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "shards": args.shards,
        "guilds": args.guilds,
        "max_concurrency": 16,
        "time_to_all_ready_s": round(ready_s, 2),
        "idle_seconds": round(wall_idle, 1),
        "idle_cpu_percent": round(100 * cpu_idle / wall_idle, 3),
        "idle_cpu_ms_per_shard_per_min": round(1000 * cpu_idle / args.shards / (wall_idle / 60), 3),
        "peak_rss_mib": round(rss_mib, 1),
        "states_during_idle": sorted(states),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--shards", type=int, default=100)
    parser.add_argument("--guilds", type=int, default=500)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(run(args))
    result["bench_seconds"] = round(time.monotonic() - started, 1)
    if not args.json:
        for key, value in result.items():
            print(f"{key:34} {value}")
    print(json.dumps(result) if args.json else "")


if __name__ == "__main__":
    main()
