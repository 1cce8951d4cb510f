"""The dispatcher's gate: an event it holds reaches nobody until released, and then reaches
consumers, waiters and handlers in the usual order, once; events after it are not held up."""

from __future__ import annotations

import asyncio

from tether.gateway.events import Dispatch, Event, Ready
from tether.runtime.dispatcher import Dispatcher
from tether.wire.codec import decode_frame, encode_json


def _ready(shard_id: int = 0) -> Ready:
    return Ready(
        shard_id=shard_id,
        session_id="s",
        guilds_expected=1,
        guilds_received=1,
        guilds_missing=0,
        guilds_unavailable=0,
        timed_out=False,
    )


def _dispatch(seq: int) -> Dispatch:
    frame = decode_frame(encode_json({"op": 0, "t": "MESSAGE_CREATE", "s": seq, "d": {}}))
    return Dispatch(shard_id=0, name="MESSAGE_CREATE", seq=seq, frame=frame)


async def test_held_event_reaches_everyone_once_after_release() -> None:
    dispatcher = Dispatcher()
    seen: list[str] = []
    held: list[Event] = []
    dispatcher.consumers.append(lambda e: seen.append(f"consumer {type(e).__name__}"))

    def gate(event: Event) -> bool:
        if isinstance(event, Ready):
            held.append(event)
            return True
        return False

    dispatcher.gate = gate

    async def on_ready(_event: Ready) -> None:
        seen.append("handler Ready")

    dispatcher.add(Ready, on_ready)
    dispatcher.start()
    waiter = dispatcher.wait_for(Ready, None)
    dispatcher.put_many([_dispatch(1), _ready(), _dispatch(2)])
    await dispatcher.wait_idle(timeout=5)

    assert len(held) == 1
    assert seen == ["consumer Dispatch", "consumer Dispatch"]  # later events not held up
    assert not waiter.done()
    assert dispatcher.delivered_seq[0] == 2

    dispatcher.release(held[0])
    assert await asyncio.wait_for(waiter, 5) is held[0]
    await dispatcher.wait_idle(timeout=5)
    assert seen == ["consumer Dispatch", "consumer Dispatch", "consumer Ready", "handler Ready"]
    assert dispatcher.stats.delivered == 3
    await dispatcher.close(grace=1)


async def test_without_gate_everything_is_delivered() -> None:
    dispatcher = Dispatcher()
    names: list[str] = []
    dispatcher.consumers.append(lambda e: names.append(type(e).__name__))
    dispatcher.start()
    dispatcher.put_many([_dispatch(1), _ready()])
    await dispatcher.wait_idle(timeout=5)
    assert names == ["Dispatch", "Ready"]
    await dispatcher.close(grace=1)
