"""Resident memory of the guild cache after Ready: tether against discord.py, same worlds.

Run from the repository root::

    .venv/bin/python bench/memory.py --json            # every world (about 6 minutes)
    .venv/bin/python bench/memory.py --quick --json    # the 1,000-guild worlds only
    .venv/bin/python bench/memory.py --world 5k_x100 --runs 1

Each world is served by the emulator in a process of its own; every client run is a fresh
process (see bench/guildbench.py). A library's cache figure is its RSS when it says it is
ready minus its RSS before connecting (after ``gc.collect()`` both times), the median over
``--runs`` runs. ``ratio`` is tether / discord.py (target: at most 1/3). ``per_member_b`` is
the tether figure divided by the members cached, to show it grows linearly with the world.
Both libraries keep everything their intents allow (tether ``CacheFlags.ALL``, 1000
messages; discord.py's defaults), with every intent, over zlib-stream.

Stdout: a table, and with ``--json`` a last line holding one JSON object: per world
``tether_mib``, ``discordpy_mib``, ``ratio``, plus ``*_trimmed_mib`` (after
``malloc_trim``), members and users cached, and the seconds the world took.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from guildbench import WORLDS, log, measure, pick_worlds, versions


def cache_mib(run: dict[str, Any], trimmed: bool = False) -> float:
    after = run["rss_trimmed_mib"] if trimmed else run["rss_ready_mib"]
    return float(after - run["rss_before_mib"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    parser.add_argument("--runs", type=int, default=3, help="runs per library and world")
    parser.add_argument("--quick", action="store_true", help="only the 1,000-guild worlds")
    parser.add_argument("--world", action="append", choices=sorted(WORLDS), help="one world")
    args = parser.parse_args()
    began = time.monotonic()
    report: dict[str, Any] = {}
    for world in pick_worlds(args.world, args.quick):
        runs = args.runs if world.guilds <= 1000 else max(1, args.runs - 1)
        measured = measure(world, ["tether", "discordpy"], runs)
        tether = measured.median("tether", cache_mib)
        discordpy = measured.median("discordpy", cache_mib)
        members = measured.runs["tether"][0]["members"]
        report[world.name] = {
            "tether_mib": round(tether, 1),
            "discordpy_mib": round(discordpy, 1),
            "ratio": round(tether / discordpy, 3),
            "tether_trimmed_mib": round(measured.median("tether", lambda r: cache_mib(r, True)), 1),
            "discordpy_trimmed_mib": round(
                measured.median("discordpy", lambda r: cache_mib(r, True)), 1
            ),
            "members": members,
            "users": measured.runs["tether"][0]["users"],
            "discordpy_members": measured.runs["discordpy"][0]["members"],
            "tether_per_member_b": round(tether * 2**20 / max(1, members)),
            "discordpy_per_member_b": round(discordpy * 2**20 / max(1, members)),
            "runs": runs,
            "seconds": round(measured.seconds, 1),
        }
    print(f"{'world':<16} {'tether MiB':>11} {'discord.py MiB':>15} {'ratio':>6} "
          f"{'B/member t':>11} {'B/member d':>11}")  # fmt: skip
    for name, row in report.items():
        print(f"{name:<16} {row['tether_mib']:>11.1f} {row['discordpy_mib']:>15.1f} "
              f"{row['ratio']:>6.3f} {row['tether_per_member_b']:>11} "
              f"{row['discordpy_per_member_b']:>11}")  # fmt: skip
    total = time.monotonic() - began
    log(f"done in {total:.0f} s")
    if args.json:
        print(json.dumps({"worlds": report, "seconds": round(total, 1), "versions": versions()}))


if __name__ == "__main__":
    main()
