"""Run the emulator in a process of its own for the benchmarks (so it never counts in a
client's RSS or CPU): ``python bench/emuproc.py --guilds N --members M ...``.

Prints ``PORT <n>`` on stdout once it listens, then serves until stdin is closed. Benchmark
knobs: GUILD_CREATE bodies are rendered once and reused (``prerender_guild_creates``),
zlib level 1, no identify window, so the emulator is never the slow side. The first
connection pays for the rendering; :func:`warm` makes one before any timed run.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from tether.emulator import DEFAULT_TOKEN, Emulator, EmulatorConfig

__all__ = ["EmulatorProcess", "World"]

HERE = Path(__file__).resolve().parent


class World:
    """The shape of a benchmark world."""

    def __init__(
        self, name: str, *, guilds: int, members: int, channels: int = 10, roles: int = 10,
        shared: bool = False,
    ) -> None:  # fmt: skip
        self.name = name
        self.guilds = guilds
        self.members = members
        self.channels = channels
        self.roles = roles
        self.shared = shared

    def args(self) -> list[str]:
        """The command-line arguments of this script for the world."""
        return [
            "--guilds", str(self.guilds), "--members", str(self.members),
            "--channels", str(self.channels), "--roles", str(self.roles),
            *(["--shared"] if self.shared else []),
        ]  # fmt: skip


class EmulatorProcess:
    """The emulator of one world, running in a child process (a context manager)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmulatorProcess:
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "emuproc.py"), *self.world.args()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"emulator process failed to start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: Any) -> None:
        proc = self._proc
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def api_url(self) -> str:
        """The REST base of the emulator."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway URL of the emulator."""
        return f"ws://127.0.0.1:{self.port}/"


async def _serve(args: argparse.Namespace, out: IO[str]) -> None:
    config = EmulatorConfig(
        prerender_guild_creates=True,
        zlib_level=1,
        identify_window_s=0.0,
        max_guilds_per_shard=max(2500, args.guilds),
        replay_buffer_size=100,
        session_start_total=1_000_000,
        session_start_remaining=1_000_000,
    )
    emu = Emulator(
        DEFAULT_TOKEN,
        guilds=args.guilds,
        config=config,
        members_per_guild=args.members,
        channels_per_guild=args.channels,
        roles_per_guild=args.roles,
        shared_users=args.shared,
    )
    await emu.start()
    out.write(f"PORT {emu.port}\n")
    out.flush()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await emu.stop()


def main() -> None:
    """Entry point of the child process."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--guilds", type=int, required=True)
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--roles", type=int, default=10)
    parser.add_argument("--shared", action="store_true")
    asyncio.run(_serve(parser.parse_args(), sys.stdout))


if __name__ == "__main__":
    main()
