"""One client run against a guild-stream world, in a process of its own (for bench/memory.py
and bench/ready.py): ``python bench/guildclient.py LIB PORT GUILDS``.

LIB is ``tether``, ``discordpy`` or ``floor``. The client connects to the emulator on PORT
(zlib-stream, every intent) and prints one JSON line:

- ``rss_before_mib``: resident memory after imports and building the client, before start;
- ``rss_ready_mib``: resident memory when the library says it is ready (after a
  ``gc.collect()``, as before), and ``rss_trimmed_mib`` after ``malloc_trim(0)`` too;
- ``fill_s``: from ``start()`` until the cache holds every guild available (polled every
  ``POLL_S`` by the same loop, the same way for both libraries);
- ``ready_s``: from ``start()`` until the library's ready event reaches user code;
- ``guilds``, ``members``, ``users``: what the cache holds at ready (a sanity check).

``floor`` connects with a bare aiohttp socket, records the stream's compressed messages up
to the last GUILD_CREATE, then times inflate + JSON decode of those bytes with no library
(msgspec and orjson; the faster counts): ``floor_s``.

discord.py runs unmodified but for its base URLs; ``zstandard`` is hidden from its process
so that it speaks zlib-stream, like tether and the floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import sys
import time
import warnings
import zlib
from typing import Any

POLL_S = 0.005
READY_TIMEOUT = 180.0
_PAGE = 4096


def rss_mib() -> float:
    """Resident set size of this process in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE / 2**20


def trimmed_rss_mib() -> float:
    """RSS after handing free heap pages back to the OS (glibc ``malloc_trim``)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mib()


async def watch_fill(count: Any, expected: int, started: float, out: dict[str, Any]) -> None:
    """Record ``fill_s`` once ``count()`` reaches ``expected`` (polling is the point here:
    the same probe, at the same rate, for every library)."""
    while count() < expected:  # noqa: ASYNC110
        await asyncio.sleep(POLL_S)
    out["fill_s"] = time.perf_counter() - started


async def run_tether(port: int, guilds: int) -> dict[str, Any]:
    import tether
    from tether.emulator import DEFAULT_TOKEN

    client = tether.Client(
        DEFAULT_TOKEN, api_url=f"http://127.0.0.1:{port}/api/v10", intents=tether.Intents.all()
    )
    out: dict[str, Any] = {}
    ready = asyncio.Event()

    def on_ready(_event: tether.Ready) -> None:
        out["ready_s"] = time.perf_counter() - started
        ready.set()

    client.on(tether.Ready)(on_ready)
    gc.collect()
    out["rss_before_mib"] = rss_mib()
    started = time.perf_counter()
    await client.start()
    filled = watch_fill(lambda: len(client.cache.guilds), guilds, started, out)
    watcher = asyncio.create_task(filled)
    await asyncio.wait_for(ready.wait(), READY_TIMEOUT)
    await asyncio.wait_for(watcher, READY_TIMEOUT)
    gc.collect()
    out["rss_ready_mib"] = rss_mib()
    out["rss_trimmed_mib"] = trimmed_rss_mib()
    counts = client.cache.counts()
    out.update(guilds=counts["guilds"], members=counts["members"], users=counts["users"])
    await client.stop()
    return out


async def run_discordpy(port: int, guilds: int) -> dict[str, Any]:
    sys.modules["zstandard"] = None  # type: ignore[assignment]  # speak zlib-stream
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import discord
        import discord.gateway
        import discord.http
        import yarl
    from tether.emulator import DEFAULT_TOKEN

    discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/")
    client = discord.Client(intents=discord.Intents.all())
    out: dict[str, Any] = {}
    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        out["ready_s"] = time.perf_counter() - started
        ready.set()

    state = client._connection

    def available() -> int:
        return sum(1 for g in state._guilds.values() if not g.unavailable)

    gc.collect()
    out["rss_before_mib"] = rss_mib()
    started = time.perf_counter()
    runner = asyncio.create_task(client.start(DEFAULT_TOKEN))
    watcher = asyncio.create_task(watch_fill(available, guilds, started, out))
    await asyncio.wait_for(ready.wait(), READY_TIMEOUT)
    await asyncio.wait_for(watcher, READY_TIMEOUT)
    gc.collect()
    out["rss_ready_mib"] = rss_mib()
    out["rss_trimmed_mib"] = trimmed_rss_mib()
    out.update(
        guilds=len(client.guilds),
        members=sum(len(g.members) for g in client.guilds),
        users=len(client.users),
    )
    await client.close()
    await asyncio.gather(runner, return_exceptions=True)
    return out


async def capture(port: int, guilds: int) -> list[bytes]:
    """The compressed messages of one session's stream, HELLO to the last GUILD_CREATE."""
    import aiohttp

    from tether.emulator import DEFAULT_TOKEN
    from tether.wire.intents import Intents

    messages: list[bytes] = []
    inflater = zlib.decompressobj()
    seen = 0
    url = f"ws://127.0.0.1:{port}/?v=10&encoding=json&compress=zlib-stream"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
        identify = {
            "token": DEFAULT_TOKEN,
            "intents": int(Intents.all()),
            "properties": {"os": "linux", "browser": "bench", "device": "bench"},
            "large_threshold": 250,
        }
        await ws.send_json({"op": 2, "d": identify})
        while seen < guilds:
            msg = await asyncio.wait_for(ws.receive(), READY_TIMEOUT)
            if msg.type is not aiohttp.WSMsgType.BINARY:
                raise RuntimeError(f"unexpected message {msg.type}")
            messages.append(msg.data)
            text = inflater.decompress(msg.data)
            if b'"t":"GUILD_CREATE"' in text[:200] or b'"GUILD_CREATE"' in text[-200:]:
                seen += 1
        await ws.close()
    return messages


def time_floor(messages: list[bytes]) -> dict[str, float]:
    """Seconds to inflate and JSON-decode ``messages`` with each decoder (best of 3)."""
    import msgspec

    decoders: dict[str, Any] = {"msgspec": msgspec.json.decode}
    try:
        import orjson

        decoders["orjson"] = orjson.loads
    except ImportError:
        pass
    best: dict[str, float] = {}
    for name, decode in decoders.items():
        for _ in range(3):
            inflater = zlib.decompressobj()
            began = time.perf_counter()
            for message in messages:
                decode(inflater.decompress(message))
            spent = time.perf_counter() - began
            best[name] = min(best.get(name, spent), spent)
    return best


async def run_floor(port: int, guilds: int) -> dict[str, Any]:
    messages = await capture(port, guilds)
    times = time_floor(messages)
    return {
        "floor_s": min(times.values()),
        "floor_by_decoder_s": times,
        "stream_bytes": sum(len(m) for m in messages),
        "stream_messages": len(messages),
    }


def main() -> None:
    """Entry point: one run, one JSON line on stdout (warnings of the library on stderr)."""
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)d %(name)s %(message)s")
    logging.getLogger("discord").setLevel(logging.WARNING)
    lib, port, guilds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    runner = {"tether": run_tether, "discordpy": run_discordpy, "floor": run_floor}[lib]
    result = asyncio.run(runner(port, guilds))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
