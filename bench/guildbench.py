"""What bench/memory.py and bench/ready.py share: the worlds, and runs of clients against them.

For each world, the emulator runs in a process of its own (bench/emuproc.py) and every
client run is a fresh process (bench/guildclient.py), so RSS and CPU are per process and
nothing one run leaves behind reaches the next. A discarded warm-up run of each library
makes the emulator render its GUILD_CREATE bodies first, so no timed run waits for that.
Runs of the libraries are interleaved (tether, discord.py, tether, ...), so a slow moment of
the machine hits both alike; figures are medians.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from emuproc import EmulatorProcess, World

HERE = Path(__file__).resolve().parent
RUN_TIMEOUT = 900.0

#: The worlds of issue 3: 10 channels and 10 roles per guild; members unique per guild,
#: except in the ``shared`` world where every guild draws from one pool of 200 users.
WORLDS = {
    "1k_x50": World("1k_x50", guilds=1000, members=50),
    "1k_x100": World("1k_x100", guilds=1000, members=100),
    "5k_x50": World("5k_x50", guilds=5000, members=50),
    "5k_x100": World("5k_x100", guilds=5000, members=100),
    "1k_x100_shared": World("1k_x100_shared", guilds=1000, members=100, shared=True),
    "5k_x100_shared": World("5k_x100_shared", guilds=5000, members=100, shared=True),
}
QUICK = ("1k_x50", "1k_x100", "1k_x100_shared")


def log(message: str) -> None:
    """Progress on stderr (stdout carries the report)."""
    print(message, file=sys.stderr, flush=True)


def run_client(lib: str, emu: EmulatorProcess) -> dict[str, Any]:
    """One client run in a fresh process; its JSON result."""
    done = subprocess.run(
        [sys.executable, str(HERE / "guildclient.py"), lib, str(emu.port), str(emu.world.guilds)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{lib} run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@dataclass
class WorldRuns:
    """Every run of one world."""

    world: World
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    seconds: float = 0.0

    def median(self, lib: str, key: Callable[[dict[str, Any]], float]) -> float:
        """The median of ``key`` over the runs of ``lib``."""
        return statistics.median(key(r) for r in self.runs[lib])


def measure(world: World, libs: list[str], runs: int) -> WorldRuns:
    """Warm the emulator up, then ``runs`` interleaved runs of each library."""
    began = time.monotonic()
    out = WorldRuns(world)
    log(f"[{world.name}] starting the emulator ({world.guilds} guilds x {world.members} members)")
    with EmulatorProcess(world) as emu:
        for lib in dict.fromkeys(lib if lib != "floor" else "tether" for lib in libs):
            log(f"[{world.name}] warm-up run of {lib}")
            run_client(lib, emu)
        for index in range(runs):
            for lib in libs:
                result = run_client(lib, emu)
                out.runs.setdefault(lib, []).append(result)
                log(f"[{world.name}] run {index + 1}/{runs} {lib}: {_short(result)}")
    out.seconds = time.monotonic() - began
    return out


def _short(result: dict[str, Any]) -> str:
    keys = ("fill_s", "ready_s", "floor_s", "rss_before_mib", "rss_ready_mib", "members")
    return " ".join(f"{k}={result[k]:.3f}" if isinstance(result[k], float) else
                    f"{k}={result[k]}" for k in keys if k in result)  # fmt: skip


def versions() -> dict[str, str]:
    """Versions of what was measured."""
    found = {"python": sys.version.split()[0]}
    for dist in ("discord.py", "aiohttp", "msgspec", "orjson"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "missing"
    return found


def pick_worlds(names: list[str] | None, quick: bool) -> list[World]:
    """The worlds to run: named ones, the quick set, or all."""
    if names:
        return [WORLDS[name] for name in names]
    return [WORLDS[name] for name in (QUICK if quick else WORLDS)]
