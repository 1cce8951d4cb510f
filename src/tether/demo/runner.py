"""``tether demo``: the emulator, a sample bot, steady traffic and a fault every few seconds.

Every ``ping_every``-th message of the traffic is ``!ping``; the bot answers each with a
``pong`` reply over REST, and the summary counts the replies the emulator recorded.

The run, in order: start the emulator and the bot on loopback; stream MESSAGE_CREATE at the
chosen rate; inject one fault at a time, each only once the bot is back to READY from the
previous one; at the end stop the traffic, let the bot catch up, collect the emulator's view
of every session, stop the bot and the emulator, and account for every message
(:mod:`tether.demo.ledger`). Output goes through the ``out`` callable; nothing here prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.demo.bot import PING, PONG, Bot
from tether.demo.faults import ALL_KINDS, KINDS, MARK_EVENT, Expect, FaultKind
from tether.demo.ledger import Ledger, ServerFacts, account
from tether.demo.report import DemoResult, FaultRecord, format_seconds, status_line
from tether.demo.server import paced, send_recorded, server_facts
from tether.emulator import Emulator, EmulatorConfig
from tether.errors import TetherError
from tether.gateway.events import Disconnected, Ready, Resumed, SessionLost
from tether.gateway.state import ShardState
from tether.runtime.client import Client
from tether.wire.intents import Intents

__all__ = ["DemoOptions", "run_demo"]

#: Seconds of normal traffic after a recovery before the next fault: more than the bot's
#: ``stable_after`` (:data:`STABLE_AFTER_S`), so each fault starts from a fresh reconnect backoff
#: (first retry at once), and short enough that a 30 s run goes through every kind once.
PAUSE_BETWEEN_FAULTS_S = 0.8
STABLE_AFTER_S = 0.5
#: Seconds the bot gets to catch up with the traffic at the end.
DRAIN_TIMEOUT_S = 5.0
#: Seconds allowed for a harmless fault's check (marker round trip, requested heartbeat).
HARMLESS_TIMEOUT_S = 5.0
#: After Ctrl-C, the longest wait for a recovery in progress.
INTERRUPTED_RECOVERY_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOptions:
    """What ``tether demo`` was asked for (see ``tether demo --help``)."""

    duration: float = 30.0
    guilds: int = 5
    faults: tuple[str, ...] = ALL_KINDS
    rate: float = 50.0
    seed: int = 0
    heartbeat_ms: int = 1000
    stuck_after: float = 30.0
    status_every: float = 1.0
    quiet: bool = False
    ping_every: int = 10


async def run_demo(
    options: DemoOptions, out: Callable[[str], None], interrupted: asyncio.Event
) -> DemoResult:
    """Run the whole demo and return its result (the caller prints the summary).

    Args:
        options: the run's settings.
        out: receives each line of live status (never called with ``quiet``).
        interrupted: set it (e.g. on Ctrl-C) to end the run early but cleanly.
    """
    # log_limit None: the accounting reads every session's records at the end
    config = EmulatorConfig(heartbeat_interval_ms=options.heartbeat_ms, log_limit=None)
    async with Emulator(guilds=options.guilds, seed=options.seed, config=config) as emu:
        demo = _Demo(options, emu, out, interrupted)
        return await demo.run()


class _Demo:
    def __init__(
        self,
        options: DemoOptions,
        emu: Emulator,
        out: Callable[[str], None],
        interrupted: asyncio.Event,
    ) -> None:
        self.options = options
        self.emu = emu
        self.out = (lambda _line: None) if options.quiet else out
        self.interrupted = interrupted
        self.loop = asyncio.get_running_loop()
        self.ledger = Ledger()
        self.client = Client(
            emu.token,
            api_url=emu.api_url,
            intents=Intents.default() | Intents.MESSAGE_CONTENT,
            guild_ready_timeout=2.0,
            hello_timeout=5.0,
            stable_after=STABLE_AFTER_S,
            rng=random.Random(options.seed),
        )
        self.bot = Bot(self.client, self.ledger, bot_user_id=emu.world.bot.id)
        self.records: list[FaultRecord] = []
        self.current: FaultRecord | None = None
        self.started = self.loop.time()
        self.wall_started = time.monotonic()
        self._ending = asyncio.Event()
        self._traffic_stop = asyncio.Event()
        self._mark_serial = 0
        self._ping_serial = 0
        self._channels = emu.world.text_channel_ids()

    def elapsed(self, at: float | None = None) -> float:
        return (self.loop.time() if at is None else at) - self.started

    def say(self, line: str) -> None:
        self.out(f"[{self.elapsed():6.1f}s] {line}")

    # the run -----------------------------------------------------------------------------

    async def run(self) -> DemoResult:
        opts = self.options
        tasks: list[asyncio.Task[None]] = []
        final_state = ShardState.STOPPED
        facts = ServerFacts({}, {}, {}, None)
        replies: dict[str, Any] = {}
        stopped_cleanly = False
        kinds = ", ".join(opts.faults) if len(opts.faults) < len(ALL_KINDS) else "all"
        self.say(
            f"emulator on {self.emu.base_url} ({opts.guilds} guilds, heartbeat "
            f"{opts.heartbeat_ms} ms); bot connecting; {opts.rate:g} msg/s for "
            f"{opts.duration:g} s; faults: {kinds or 'none'}"
        )
        try:
            await self.client.start()
            ready = await self._wait_ready(opts.stuck_after)
            if ready:
                self.say(f"bot ready ({self._ready_text()})")
                tasks.append(asyncio.create_task(self._traffic(), name="demo traffic"))
                tasks.append(asyncio.create_task(self._status(), name="demo status"))
                faults = asyncio.create_task(self._fault_loop(), name="demo faults")
                tasks.append(faults)
                await self._until_end()
                self._ending.set()
                self._traffic_stop.set()
                await asyncio.gather(tasks[0], return_exceptions=True)
                await self._finish_faults(faults)
                await self._wait_ready(self._recovery_budget())
                await self._drain()
                await self.bot.finish_replies(DRAIN_TIMEOUT_S)
            else:
                self.say(f"bot not ready after {opts.stuck_after:g} s: counting it as stuck")
                self.records.append(self._stuck_record("startup"))
            final_state = self.client.state
            facts = self._facts()
            replies = self._replies()
        finally:
            self._traffic_stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.bot.finish_replies(0.0)
            await self.client.stop()
            stopped_cleanly = self.client.state is ShardState.STOPPED
        self.say(
            f"bot stopped ({'cleanly' if stopped_cleanly else 'NOT cleanly'}); emulator stopping"
        )
        return DemoResult(
            options_text=self._options_text(),
            accounting=account(self.ledger, facts),
            faults=self.records,
            resumes=self.bot.count(Resumed),
            reidentifies=max(0, self.bot.new_sessions - 1),
            ready_events=self.bot.count(Ready),
            session_lost_events=self.bot.count(SessionLost),
            replies=replies,
            final_state=final_state.value,
            stopped_cleanly=stopped_cleanly,
            interrupted=self.interrupted.is_set(),
            elapsed_s=time.monotonic() - self.wall_started,
            settings={
                "duration_s": opts.duration,
                "rate": opts.rate,
                "guilds": opts.guilds,
                "seed": opts.seed,
                "heartbeat_ms": opts.heartbeat_ms,
            },
        )

    async def _until_end(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.interrupted.wait(), self.options.duration)
        if self.interrupted.is_set():
            self.say("interrupted: finishing the current fault, then stopping cleanly")
        else:
            self.say(f"{self.options.duration:g} s done: traffic and faults stop; the bot settles")

    def _recovery_budget(self) -> float:
        return INTERRUPTED_RECOVERY_S if self.interrupted.is_set() else self.options.stuck_after

    async def _finish_faults(self, task: asyncio.Task[None]) -> None:
        """Let the fault in progress recover (bounded, shorter after Ctrl-C), then end the loop."""
        if not self.interrupted.is_set():
            waiter = asyncio.ensure_future(self.interrupted.wait())
            await asyncio.wait(
                {task, waiter},
                timeout=self.options.stuck_after + HARMLESS_TIMEOUT_S,
                return_when=asyncio.FIRST_COMPLETED,
            )
            waiter.cancel()
        if not task.done() and self.interrupted.is_set():
            await asyncio.wait({task}, timeout=INTERRUPTED_RECOVERY_S)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self.current is not None:
                self.current.finish("interrupted", "interrupted before recovery", None)
                self.current = None
            return
        error = task.exception()
        if error is not None:
            raise error

    async def _wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError, TetherError):  # TetherError: a fatal close
            await self.client.wait_until_ready(timeout=timeout)
        return self.client.state is ShardState.READY

    async def _drain(self) -> None:
        """Wait (bounded) until every message queued into the bot's session reached it."""
        held = self.client.shards[0].session_id if self.client.shards else None
        if held is None:
            return
        pending = {m.message_id for m in self.ledger.missing_in(held)}
        received = self.ledger.received
        await self.bot.wait(lambda: all(i in received for i in pending), DRAIN_TIMEOUT_S)

    def _facts(self) -> ServerFacts:
        """The emulator's view of every session, taken before the client stops."""
        held = self.client.shards[0].session_id if self.client.shards else None
        return server_facts(self.emu, self.ledger, [held])

    def _replies(self) -> dict[str, Any]:
        """Pings and pongs: what the bot answered, as the emulator's REST log recorded it."""
        calls = self.emu.rest.calls()
        answered = set()
        for call in calls:
            body = call.get("body")
            if call.get("route") != "POST /channels/{channel_id}/messages" or not body:
                continue
            reference = body.get("message_reference") or {}
            if call.get("status") == 200 and body.get("content") == PONG:
                answered.add(str(reference.get("message_id")))
        unanswered = [p for p in self.bot.pings if str(p) not in answered]
        return {
            "pings_sent": self._ping_serial,
            "pings_delivered": len(self.bot.pings),
            "pongs_sent": len(self.bot.pongs),
            "pongs_recorded": len(answered),
            "pongs_echoed": self.bot.own_seen,
            "pings_unanswered": len(unanswered),
            "pong_errors": dict(self.bot.pong_errors),
            "rest_calls": len(calls),
            "rest_429": sum(1 for c in calls if c.get("status") == 429),
        }

    # traffic -----------------------------------------------------------------------------

    async def _traffic(self) -> None:
        """MESSAGE_CREATE at ``rate`` per second; each message's sessions and seqs recorded."""
        every = self.options.ping_every
        async for serial in paced(self.loop, self.options.rate, self._traffic_stop):
            channel = self._channels[serial % len(self._channels)]
            content = f"demo message #{serial}"
            if every > 0 and serial % every == 0:
                # pings get their own rotation: spread over every channel's bucket
                self._ping_serial += 1
                channel = self._channels[self._ping_serial % len(self._channels)]
                content = PING
            await send_recorded(
                self.emu, self.ledger, channel, content, serial=serial, clock=self.loop.time
            )

    # live status -------------------------------------------------------------------------

    async def _status(self) -> None:
        every = self.options.status_every
        if every <= 0:
            return
        while True:
            await asyncio.sleep(every)
            latency = self.client.latency
            last = self.current or (self.records[-1] if self.records else None)
            self.say(
                status_line(
                    state=self.client.state.value,
                    latency_ms=None if latency is None else latency * 1000,
                    sent=len(self.ledger.sent),
                    delivered=self.ledger.delivered,
                    queue=self.client.queue_depth,
                    faults=len(self.records),
                    pongs=len(self.bot.pongs),
                    last=last,
                    now=self.loop.time(),
                )
            )

    # faults ------------------------------------------------------------------------------

    async def _fault_loop(self) -> None:
        kinds = [KINDS[name] for name in self.options.faults]
        if not kinds:
            return
        number = 0
        while not self._ending.is_set():
            if not await self._pause(PAUSE_BETWEEN_FAULTS_S):
                return
            # after a stuck fault: wait for READY again before the next one
            ready = self.client.state is ShardState.READY
            if not ready and not await self._wait_ready(self.options.stuck_after):
                continue
            kind = kinds[number % len(kinds)]
            number += 1
            await self._fault(number, kind)

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless the run ends first; returns False if it ended."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ending.wait(), seconds)
        return not self._ending.is_set()

    async def _fault(self, number: int, kind: FaultKind) -> None:
        mark, log_mark = self.bot.mark(), self.emu.log.mark()
        at = self.loop.time()
        record = FaultRecord(number=number, kind=kind.name, expect=kind.expect, injected_at=at)
        self.records.append(record)
        self.current = record
        targets = await kind.inject(self.emu)
        self.say(f"fault #{number} {kind.name}: {kind.description} ({targets} connection(s))")
        if targets == 0:
            record.finish("skipped", "no live connection to inject into", None)
        elif kind.expect is Expect.HARMLESS:
            await self._check_harmless(record, kind, mark, log_mark)
        else:
            await self._await_recovery(record, mark)
        self.current = None
        self.say(f"fault #{number} {kind.name} -> {record.summary()}")

    async def _await_recovery(self, record: FaultRecord, mark: int) -> None:
        """Wait for the RESUMED or the new session's Ready that ends this fault's outage."""
        bot = self.bot
        done = await bot.wait(
            lambda: bool(bot.since(mark, (Resumed, Ready))),
            self.options.stuck_after,
        )
        if not done:
            record.finish("stuck", f"no recovery within {self.options.stuck_after:g} s", None)
            return
        remaining = self.options.stuck_after - (self.loop.time() - record.injected_at)
        if not await self._wait_ready(max(0.1, remaining)):
            record.finish("stuck", f"not READY within {self.options.stuck_after:g} s", None)
            return
        [(at, first)] = bot.since(mark, (Resumed, Ready))[:1]
        if isinstance(first, Resumed):
            record.replayed = first.replayed
            record.finish(
                "resumed", f"resumed (replayed {first.replayed})", at - record.injected_at
            )
            return
        lost = bot.since(mark, SessionLost)
        if not lost:
            record.finish(
                "reidentified", "re-identified WITHOUT a SessionLost", at - record.injected_at
            )
            return
        event = lost[-1][1]
        record.window = (event.since, event.until)
        record.finish(
            "reidentified",
            f"re-identified (gap reported after seq {event.last_seq}, "
            f"{format_seconds(event.until - event.since)} window)",
            at - record.injected_at,
        )

    async def _check_harmless(
        self, record: FaultRecord, kind: FaultKind, mark: int, log_mark: int
    ) -> None:
        """A harmless fault passes when the connection survives it and a marker gets through."""
        detail = "ignored it"
        if kind.name == "request_heartbeat":
            try:
                beat = await self.emu.wait_for(
                    lambda r: r.kind == "heartbeat" and r.get("requested_latency") is not None,
                    since=log_mark,
                    timeout=HARMLESS_TIMEOUT_S,
                )
                answered = format_seconds(beat.get("requested_latency"))
                detail = f"heartbeat answered the op 1 in {answered}"
            except TimeoutError:
                detail = "no heartbeat answered the op 1"
        elif kind.name == "unknown_dispatch":
            seen = await self.bot.wait(lambda: self.bot.unknown_seen > 0, HARMLESS_TIMEOUT_S)
            detail = "handed to its handler" if seen else "never reached its handler"
        self._mark_serial += 1
        serial = self._mark_serial
        await self.emu.dispatch(MARK_EVENT, {"mark": serial}, raw=True)
        arrived = await self.bot.wait(lambda: serial in self.bot.marks, HARMLESS_TIMEOUT_S)
        if self.bot.since(mark, Disconnected):
            record.as_expected = False
            await self._await_recovery(record, mark)
            record.detail = f"disconnected, then {record.detail}"
        elif arrived:
            checked = format_seconds(self.loop.time() - record.injected_at)
            record.finish("survived", f"{detail}; connection kept (checked in {checked})", None)
        else:
            record.finish("stuck", f"{detail}; marker never arrived", None)

    def _stuck_record(self, kind: str) -> FaultRecord:
        record = FaultRecord(number=0, kind=kind, expect=Expect.RESUME, injected_at=self.started)
        record.finish("stuck", "never ready", None)
        return record

    # text --------------------------------------------------------------------------------

    def _ready_text(self) -> str:
        ready = [e for _t, e in self.bot.events if isinstance(e, Ready)]
        if not ready:
            return "no Ready event"
        last = ready[-1]
        return (
            f"{last.guilds_received}/{last.guilds_expected} guilds, session {last.session_id[:8]}"
        )

    def _options_text(self) -> str:
        o = self.options
        return (
            f"{o.duration:g} s, {o.guilds} guilds, {o.rate:g} msg/s (every {o.ping_every}th "
            f"a {PING}), seed {o.seed}, "
            f"heartbeat {o.heartbeat_ms} ms, {len(o.faults)} fault kind(s)"
        )
