"""bench/rest.py: 500 concurrent create_message calls against the emulator's real rate limits.

Two scenarios, each run on fresh buckets:

- ``one_bucket``: every message to one channel, whose bucket allows ``--limit`` requests per
  ``--window`` seconds. The allowance is ``(ceil(N / limit) - 1) * window``: the last batch
  can go at the start of the last window.
- ``spread``: the messages round-robin over ``--channels`` channels (same bucket shape, one
  per channel), so the global limit (``--global-limit`` per ``--global-period``; Discord's
  50 per second by default) is what binds. The allowance is the larger of the two limits'.

Reported per client and scenario: elapsed seconds, the allowance and their ratio (close to 1
is best: no time wasted, and never below 1, which would mean a limit was exceeded), the
emulator's answers per status (any 429 is a failure of the client), and whether each
bucket's messages arrived in the order they were sent. The emulator runs in its own process
(``tether emulator``), configured and read through its control API, so its CPU is not the
client's. ``--peers`` also runs discord.py (``PartialMessageable.send``) and hikari
(``RESTApp``) through the same scenarios, unmodified but for their base URL.

    python bench/rest.py [--requests 500] [--limit 25] [--window 0.5] [--channels 10]
                         [--global-limit 50] [--global-period 1.0] [--peers] [--json]

Stdout: a table; with ``--json`` the last line is one JSON object. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tether.rest import LimiterConfig, RestClient

MSG = "POST /channels/{channel_id}/messages"
Send = Callable[[int, str], Awaitable[Any]]


def say(message: str) -> None:
    """Progress, on stderr (stdout carries the report only)."""
    print(message, file=sys.stderr, flush=True)


async def start_emulator(guilds: int) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Start ``tether emulator`` in a child process; return it and its URLs and token."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tether.cli", "emulator", "--port", "0", "--guilds", str(guilds),
        "--quiet", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    info: dict[str, str] = {}
    patterns = {"api": r"REST API\s+(\S+)", "control": r"control API\s+(\S+)",
                "token": r"token\s+(\S+)"}  # fmt: skip
    async with asyncio.timeout(60):
        while len(info) < len(patterns):
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError("the emulator exited before printing its URLs")
            for key, pattern in patterns.items():
                match = re.search(pattern, line)
                if match:
                    info[key] = match.group(1).rstrip("/")
    return proc, info


class Control:
    """The emulator's control API."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def get(self, path: str, **params: str) -> Any:
        async with self.http.get(f"{self.base}/{path}", params=params) as response:
            return await response.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.http.post(f"{self.base}/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def tether_sender(api: str, token: str, args: argparse.Namespace) -> tuple[Send, Any]:
    limits = LimiterConfig(global_limit=args.global_limit, global_period=args.global_period)
    rest = RestClient(token, api_url=api, limits=limits)
    return rest.create_message, rest.close


async def discordpy_sender(api: str, token: str, args: argparse.Namespace) -> tuple[Send, Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord
        import discord.http
    discord.http.Route.BASE = api
    client = discord.Client(intents=discord.Intents.none())
    await client.login(token)

    async def send(channel: int, text: str) -> Any:
        return await client.get_partial_messageable(channel).send(text)

    return send, client.close


async def hikari_sender(api: str, token: str, args: argparse.Namespace) -> tuple[Send, Any]:
    import hikari

    app = hikari.RESTApp(url=api)
    await app.start()
    rest = app.acquire(token, hikari.TokenType.BOT)
    rest.start()

    async def close() -> None:
        await rest.close()
        await app.close()

    return rest.create_message, close


CLIENTS = {"tether": tether_sender, "discord.py": discordpy_sender, "hikari": hikari_sender}


def allowance(n: int, channels: int, args: argparse.Namespace) -> float:
    per_channel = math.ceil(n / channels)
    bucket = (math.ceil(per_channel / args.limit) - 1) * args.window
    global_ = (math.ceil(n / args.global_limit) - 1) * args.global_period
    return max(bucket, global_)


async def scenario(
    name: str, send: Send, control: Control, channels: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    since = (await control.get("log"))["next"]
    n = args.requests
    targets = [channels[i % len(channels)] for i in range(n)]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(send(channel, f"{name} {i}") for i, channel in enumerate(targets)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    calls = (await control.get("rest/calls", route=MSG, since=str(since)))["calls"]
    statuses = Counter(str(c["data"]["status"]) for c in calls)
    ordered = True
    for channel in set(targets):
        sent = [f"{name} {i}" for i, c in enumerate(targets) if c == channel]
        got = [
            c["data"]["body"]["content"]
            for c in calls
            if c["data"]["status"] == 200 and c["data"]["channel_id"] == str(channel)
        ]
        ordered = ordered and got == sent
    expected = allowance(n, len(set(targets)), args)
    return {
        "requests": n,
        "channels": len(set(targets)),
        "elapsed_s": round(elapsed, 3),
        "allowance_s": round(expected, 3),
        "ratio": round(elapsed / expected, 3) if expected else None,
        "answers": dict(statuses),
        "too_many_requests": statuses.get("429", 0),
        "errors": sum(1 for r in results if isinstance(r, BaseException)),
        "error_kinds": dict(
            Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
        ),
        "order_kept": ordered,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    guilds = max(1, math.ceil(args.channels / 2))
    proc, info = await start_emulator(guilds)
    try:
        async with aiohttp.ClientSession() as http:
            control = Control(http, info["control"])
            world = await control.get("world")
            channels = [int(c) for g in world["guilds"] for c in g["text_channel_ids"]]
            if len(channels) < args.channels:
                raise SystemExit(f"the emulator has only {len(channels)} text channels")
            await control.post("rest/limits", {
                "routes": {MSG: {"name": "bench", "limit": args.limit, "window_s": args.window}},
                "global_limit": args.global_limit, "global_window_s": args.global_period,
            })  # fmt: skip
            names = list(CLIENTS) if args.peers else ["tether"]
            results: dict[str, dict[str, Any]] = {}
            settle = max(args.window, args.global_period) + 0.2
            for client in names:
                await asyncio.sleep(settle)  # the previous client's windows expire first
                send, close = await CLIENTS[client](info["api"], info["token"], args)
                try:
                    results[client] = {}
                    for scenario_name, chans in (
                        ("one_bucket", channels[:1]),
                        ("spread", channels[: args.channels]),
                    ):
                        # fresh windows: let every bucket and the global window expire
                        await asyncio.sleep(settle)
                        say(f"{client}: {scenario_name} ({args.requests} messages)...")
                        results[client][scenario_name] = await scenario(
                            f"{client}-{scenario_name}", send, control, chans, args
                        )
                finally:
                    await close()
    finally:
        proc.terminate()
        await proc.wait()
    return {
        "settings": {
            "requests": args.requests, "bucket": f"{args.limit} per {args.window} s",
            "global": f"{args.global_limit} per {args.global_period} s",
            "channels": args.channels,
        },
        "results": results,
    }  # fmt: skip


def table(report: dict[str, Any]) -> str:
    lines = [
        "| client | scenario | delivered | elapsed s | allowance s | ratio | 429s | failed"
        " | order kept |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for client, scenarios in report["results"].items():
        for name, r in scenarios.items():
            lines.append(
                f"| {client} | {name} ({r['channels']} ch) | {r['answers'].get('200', 0)} | "
                f"{r['elapsed_s']} | "
                f"{r['allowance_s']} | {r['ratio']} | {r['too_many_requests']} | "
                f"{r['errors']} | {r['order_kept']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--limit", type=int, default=25, help="bucket: requests per window")
    parser.add_argument("--window", type=float, default=0.5, help="bucket window (s)")
    parser.add_argument("--channels", type=int, default=10, help="channels in 'spread'")
    parser.add_argument("--global-limit", type=int, default=50)
    parser.add_argument("--global-period", type=float, default=1.0)
    parser.add_argument("--peers", action="store_true", help="also run discord.py and hikari")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(run(args))
    print(table(report))
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
