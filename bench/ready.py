"""Time to fill the cache and to Ready at scale: tether, discord.py and the bare decode floor.

Run from the repository root::

    .venv/bin/python bench/ready.py --json             # every world (about 6 minutes)
    .venv/bin/python bench/ready.py --quick --json     # the 1,000-guild worlds only
    .venv/bin/python bench/ready.py --world 5k_x100 --runs 1

Each world is served by the emulator in a process of its own; every client run is a fresh
process (see bench/guildbench.py). ``fill_s`` is the time from ``start()`` until the cache
holds every guild (polled every 5 ms by the client's own loop, the same way for both);
``ready_s`` until the library's ready event reaches user code (discord.py waits its default
2 s of silence after the last GUILD_CREATE; tether fires with the last expected guild).
``floor_s`` is the bare decode time of the same byte stream: the compressed messages of one
session, HELLO to the last GUILD_CREATE, inflated and JSON-decoded in a loop with no library
(msgspec and orjson timed, the faster counts). ``ratio_floor`` = tether_fill_s / floor_s
(target: at most 3). Figures are medians over ``--runs`` runs.

Stdout: a table, and with ``--json`` a last line holding one JSON object with, per world,
``tether_fill_s``, ``tether_ready_s``, ``discordpy_fill_s``, ``discordpy_ready_s``,
``floor_s``, ``ratio_floor`` (and the stream's size).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from guildbench import WORLDS, WorldRuns, log, measure, pick_worlds, versions


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
        measured = measure(world, ["tether", "discordpy", "floor"], runs)

        def med(lib: str, key: str, measured: WorldRuns = measured) -> float:
            return round(measured.median(lib, lambda r: float(r[key])), 3)

        floor = med("floor", "floor_s")
        report[world.name] = {
            "tether_fill_s": med("tether", "fill_s"),
            "tether_ready_s": med("tether", "ready_s"),
            "discordpy_fill_s": med("discordpy", "fill_s"),
            "discordpy_ready_s": med("discordpy", "ready_s"),
            "floor_s": floor,
            "ratio_floor": round(med("tether", "fill_s") / floor, 2),
            "discordpy_ratio_floor": round(med("discordpy", "fill_s") / floor, 2),
            "stream_mib": round(measured.runs["floor"][0]["stream_bytes"] / 2**20, 1),
            "floor_by_decoder_s": measured.runs["floor"][0]["floor_by_decoder_s"],
            "runs": runs,
            "seconds": round(measured.seconds, 1),
        }
    print(f"{'world':<16} {'tether fill':>11} {'ready':>7} {'discord.py fill':>16} "
          f"{'ready':>7} {'floor':>7} {'ratio':>6}")  # fmt: skip
    for name, row in report.items():
        print(f"{name:<16} {row['tether_fill_s']:>11.3f} {row['tether_ready_s']:>7.3f} "
              f"{row['discordpy_fill_s']:>16.3f} {row['discordpy_ready_s']:>7.3f} "
              f"{row['floor_s']:>7.3f} {row['ratio_floor']:>6.2f}")  # fmt: skip
    total = time.monotonic() - began
    log(f"done in {total:.0f} s")
    if args.json:
        print(json.dumps({"worlds": report, "seconds": round(total, 1), "versions": versions()}))


if __name__ == "__main__":
    main()
