"""Where tether's time per MESSAGE_CREATE goes, stage by stage, with no socket and no thread.

Run from the repository root::

    .venv/bin/python bench/hotpath.py --events 50000 [--json]

The same realistic stream as bench/throughput.py (bench/firehose.py builds it in this
process: HELLO, READY, GUILD_CREATEs, then N MESSAGE_CREATE, zlib-stream) goes through
cumulative stages of the client's path, each timed over every message (best of
``--repeat``), so the difference between two lines is what the added stage costs:

1. ``limit``: ``zlib.decompressobj().decompress`` + orjson/msgspec decode of the whole
   payload: the decode limit of bench/throughput.py.
2. ``inflate``: tether's ``ZlibStreamInflater.feed`` alone.
3. ``envelope``: + ``decode_frame`` (op/s/t decoded, ``d`` kept as raw bytes).
4. ``protocol``: ``ShardProtocol.receive_message`` + ``events_received()`` (the pure core:
   inflate, envelope, sequence bookkeeping, the ``Dispatch`` event).
5. ``cache``: + ``Cache.update`` of every event (``tether.Client``'s default cache).
6. ``dispatch``: + the dispatcher on an event loop: ``put`` of every event and delivery to
   one counting async handler (a task per call), cache on (as tether.Client wires it).

What is left between stage 6 and a real run is the socket side: aiohttp's reader and
``ws.receive()``, the shard's reader loop and drain, and (with ``io_thread=True``) the
hand-off between threads and the GIL they share.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import firehose
from tether.cache import Cache
from tether.gateway.events import Dispatch, Event
from tether.gateway.protocol import ProtocolConfig, ShardProtocol
from tether.gateway.session import Session
from tether.runtime.dispatcher import Dispatcher
from tether.token import Token
from tether.wire.codec import decode_frame
from tether.wire.compression import ZlibStreamInflater
from tether.wire.intents import Intents


def best_of(repeat: int, run: Callable[[], float]) -> float:
    """The fastest of ``repeat`` runs (seconds): the least disturbed by the machine."""
    return min(run() for _ in range(repeat))


def stage_limit(prelude: list[bytes], messages: list[bytes]) -> float:
    try:
        import orjson

        loads: Callable[[bytes], Any] = orjson.loads
    except ImportError:
        import msgspec

        loads = msgspec.json.decode
    inflate = zlib.decompressobj().decompress
    for data in prelude:
        loads(inflate(data))
    started = time.perf_counter()
    for data in messages:
        loads(inflate(data))
    return time.perf_counter() - started


def stage_inflate(prelude: list[bytes], messages: list[bytes], envelope: bool) -> float:
    inflater = ZlibStreamInflater()
    for data in prelude:
        inflater.feed(data)
    feed = inflater.feed
    started = time.perf_counter()
    if envelope:
        for data in messages:
            decode_frame(feed(data) or b"")
    else:
        for data in messages:
            feed(data)
    return time.perf_counter() - started


def _protocol(prelude: list[bytes]) -> tuple[ShardProtocol, list[Event]]:
    config = ProtocolConfig(token=Token("bench.token"), intents=int(Intents.default()))
    proto = ShardProtocol(config, Session(), now=0.0, rng=random.Random(1))
    events: list[Event] = []
    for data in prelude:
        proto.receive_message(data, now=0.0)
        proto.data_to_send()
        events += proto.events_received()
    return proto, events


def stage_protocol(prelude: list[bytes], messages: list[bytes], cache: bool) -> float:
    proto, early = _protocol(prelude)
    store = Cache(intents=int(Intents.default()))
    for event in early:
        store.update(event)
    receive, drain, update = proto.receive_message, proto.events_received, store.update
    started = time.perf_counter()
    if cache:
        for data in messages:
            receive(data, now=1.0)
            for event in drain():
                update(event)
    else:
        for data in messages:
            receive(data, now=1.0)
            drain()
    return time.perf_counter() - started


def stage_dispatch(prelude: list[bytes], messages: list[bytes]) -> float:
    proto, early = _protocol(prelude)
    events: list[Event] = []
    for data in messages:
        proto.receive_message(data, now=1.0)
        events += proto.events_received()
    store = Cache(intents=int(Intents.default()))

    async def run() -> float:
        dispatcher = Dispatcher(max_queued=10_000)
        dispatcher.consumers.append(store.update)
        count = 0

        async def handler(_event: Dispatch) -> None:
            nonlocal count
            count += 1

        dispatcher.add("MESSAGE_CREATE", handler)
        dispatcher.start()
        for event in early:
            dispatcher.put(event)
        await dispatcher.wait_idle()
        started = time.perf_counter()
        batch = dispatcher.max_queued // 2
        for start in range(0, len(events), batch):
            for event in events[start : start + batch]:
                dispatcher.put(event)
            await dispatcher.wait_idle()
        spent = time.perf_counter() - started
        assert count == len(messages), (count, len(messages))
        await dispatcher.close(grace=1.0)
        return spent

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    world = asyncio.run(firehose.capture(4, 40, 1))
    stream = firehose.build(
        world,
        ["zlib-stream"],
        args.events,
        seed=1,
        url="ws://127.0.0.1:1/resume",
        heartbeat_ms=600_000,
    )["zlib-stream"]
    prelude, messages = stream.prelude, stream.messages
    stages: dict[str, Callable[[], float]] = {
        "limit": lambda: stage_limit(prelude, messages),
        "inflate": lambda: stage_inflate(prelude, messages, envelope=False),
        "envelope": lambda: stage_inflate(prelude, messages, envelope=True),
        "protocol": lambda: stage_protocol(prelude, messages, cache=False),
        "cache": lambda: stage_protocol(prelude, messages, cache=True),
        "dispatch": lambda: stage_dispatch(prelude, messages),
    }
    report: dict[str, Any] = {"events": args.events, "us_per_event": {}, "sizes": stream.sizes}
    previous = None
    for name, run in stages.items():
        us = best_of(args.repeat, run) / len(messages) * 1e6
        report["us_per_event"][name] = round(us, 2)
        added = "" if previous is None or name == "inflate" else f"  (+{us - previous:.2f})"
        print(f"{name:<9} {us:7.2f} us/event {1e6 / us:>10,.0f}/s{added}")
        previous = us
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
