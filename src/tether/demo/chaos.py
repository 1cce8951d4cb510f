"""``tether chaos``: random faults and storms against a client, with invariants checked throughout.

The emulator, the traffic, the fault draws and the ledger run here; the client runs in a
process of its own (:mod:`tether.demo.chaos_client`) so that its RSS, tasks, threads and
log records are measured alone. The run:

1. start the emulator (identify window and session-start budget scaled for a soak) and the
   client process; wait for READY;
2. stream MESSAGE_CREATE at ``rate``, recording each message's ``(session, seq)``;
3. loop: draw a burst from the seeded RNG (one fault, or a storm of several a few tens of
   ms apart, each possibly hitting a socket that is still recovering), inject it, then wait
   until the client is READY again and a marker dispatched afterwards reached every shard
   (the "never stuck" bound), run the faults' cleanups, retire server sessions the client
   gave up, pause a random moment;
4. at the end: stop the traffic, let the client catch up, take the emulator's view of every
   session, stop the client (which reports leaks and log findings), account.

Output goes through ``out``; nothing here prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from tether.demo.chaos_faults import (
    CHAOS_KINDS,
    STORMS,
    ChaosKind,
    Strike,
)
from tether.demo.chaos_report import BurstRecord, ChaosResult, overlap
from tether.demo.chaos_view import ChildClient, ClientView
from tether.demo.faults import MARK_EVENT, Expect
from tether.demo.ledger import Ledger, ServerFacts, account
from tether.demo.server import paced, send_recorded, server_facts
from tether.emulator import Emulator, EmulatorConfig, SessionState

__all__ = ["ChaosOptions", "run_chaos"]

_EXPECTED = {Expect.RESUME: "resumed", Expect.REIDENTIFY: "reidentified",
             Expect.HARMLESS: "survived"}  # fmt: skip
#: The longest wait for a connection to hit when a storm's next fault is due.
TARGET_WAIT_S = 1.0
#: Seconds the client gets to catch up with the traffic at the end.
DRAIN_TIMEOUT_S = 10.0
#: Seconds the client process gets to start and be READY.
STARTUP_TIMEOUT_S = 30.0
#: Seconds the client process gets to stop and report.
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosOptions:
    """What ``tether chaos`` was asked for (see ``tether chaos --help``).

    The client's deliberate waits are scaled down, the emulator's identify window with
    them, so that a soak injects thousands of faults per hour (recovery times are reported
    without these waits anyway): identify window 0.2 s on both sides (Discord: 5 s), op 9
    wait 0.02-0.1 s (Discord advises 1-5 s), reconnect backoff base 0.05 s, cap 0.5 s,
    stable after 0.05 s (tether's defaults: 1 s, 60 s, 1 s), guild-stream timeout 1 s,
    HELLO timeout 1.5 s. The emulator's session-start budget is raised to 10 million.
    """

    duration: float = 60.0
    faults: tuple[str, ...] = tuple(CHAOS_KINDS)
    seed: int = 0
    shards: int = 1
    guilds: int = 0
    rate: float = 50.0
    heartbeat_ms: int = 1000
    stuck_after: float = 15.0
    storm_probability: float = 0.35
    storm_size: tuple[int, int] = (2, 7)
    storm_gap_s: float = 0.08
    pause_s: float = 0.06
    compress: str | None = "zlib-stream"
    max_rss_growth_pct: float = 5.0
    warmup_s: float | None = None
    identify_window: float = 0.2
    invalid_session_wait: tuple[float, float] = (0.02, 0.1)
    reconnect_base: float = 0.05
    reconnect_cap: float = 0.5
    stable_after: float = 0.05
    guild_ready_timeout: float = 1.0
    hello_timeout: float = 1.5
    status_every: float = 5.0
    quiet: bool = False
    pin_malloc: bool = True

    @property
    def world_guilds(self) -> int:
        """Guilds in the world: as asked, else enough for every shard to hold some."""
        return self.guilds or max(5, 3 * self.shards)

    @property
    def warmup(self) -> float:
        """Seconds before RSS samples count: 10 % of the run, between 10 and 120 s."""
        if self.warmup_s is not None:
            return self.warmup_s
        return min(120.0, max(10.0, self.duration / 10))

    def replay_command(self) -> str:
        """The command line that replays this run's draws."""
        parts = [f"tether chaos --seed {self.seed} --duration {self.duration:g}"]
        if self.shards != 1:
            parts.append(f"--shards {self.shards}")
        if set(self.faults) != set(CHAOS_KINDS):
            parts.append("--faults " + ",".join(self.faults))
        if self.rate != 50.0:
            parts.append(f"--rate {self.rate:g}")
        if self.storm_probability != 0.35:
            parts.append(f"--storms {self.storm_probability:g}")
        if self.stuck_after != 15.0:
            parts.append(f"--stuck-after {self.stuck_after:g}")
        if self.compress != "zlib-stream":
            parts.append(f"--compress {self.compress or 'none'}")
        if not self.pin_malloc:
            parts.append("--no-pin-malloc")
        return " ".join(parts)


async def run_chaos(
    options: ChaosOptions, out: Callable[[str], None], interrupted: asyncio.Event
) -> ChaosResult:
    """Run a whole chaos session and return its result (the caller prints it)."""
    config = EmulatorConfig(
        heartbeat_interval_ms=options.heartbeat_ms,
        identify_window_s=options.identify_window,
        session_start_total=10_000_000,
        session_start_remaining=10_000_000,
        shards=options.shards,
        log_limit=None,  # the accounting reads every session's records at the end
    )
    async with Emulator(guilds=options.world_guilds, seed=options.seed, config=config) as emu:
        return await _Chaos(options, emu, out, interrupted).run()


class _Chaos:
    def __init__(
        self,
        options: ChaosOptions,
        emu: Emulator,
        out: Callable[[str], None],
        interrupted: asyncio.Event,
    ) -> None:
        self.options = options
        self.emu = emu
        self.out = (lambda _line: None) if options.quiet else out
        self.interrupted = interrupted
        self.loop = asyncio.get_running_loop()
        self.rng = random.Random(options.seed)
        self.ledger = Ledger()
        self.serials: dict[int, int] = {}
        shard_ids = list(range(options.shards))
        self.view = ClientView(shard_ids, self.ledger, self.serials)
        token = emu.token
        self.child = ChildClient(
            self._settings(),
            self.view,
            [token, token.rsplit(".", 1)[-1]],
            pin_malloc=options.pin_malloc,
        )
        self.kinds = [CHAOS_KINDS[name] for name in options.faults]
        self.guild_ids = sorted(emu.world.guilds)
        self.marker_guild = self._marker_guilds(shard_ids)
        self.bursts: list[BurstRecord] = []
        self.started = self.loop.time()
        self.wall_started = time.monotonic()
        self._ending = asyncio.Event()
        self._traffic_stop = asyncio.Event()
        self._mark = 0
        self._channels = emu.world.text_channel_ids()

    def _settings(self) -> dict[str, object]:
        o = self.options
        return {
            "token": self.emu.token,
            "api_url": self.emu.api_url,
            "shards": o.shards,
            "seed": o.seed,
            "compress": o.compress,
            "identify_window": o.identify_window,
            "invalid_session_wait": list(o.invalid_session_wait),
            "reconnect_base": o.reconnect_base,
            "reconnect_cap": o.reconnect_cap,
            "stable_after": o.stable_after,
            "guild_ready_timeout": o.guild_ready_timeout,
            "hello_timeout": o.hello_timeout,
        }

    def _marker_guilds(self, shard_ids: list[int]) -> dict[int, int | None]:
        """Per shard, a guild to route its markers on (None: unsharded, no guild needed)."""
        if self.options.shards == 1:
            return {0: None}
        found: dict[int, int | None] = {}
        for gid in self.guild_ids:
            found.setdefault((gid >> 22) % self.options.shards, gid)
        return {sid: found[sid] for sid in shard_ids if sid in found}

    def say(self, line: str) -> None:
        self.out(f"[{self.loop.time() - self.started:7.1f}s] {line}")

    # the run -----------------------------------------------------------------------------

    async def run(self) -> ChaosResult:
        o = self.options
        facts = ServerFacts({}, {}, {}, None)
        final_ready = False
        self.say(
            f"emulator on {self.emu.base_url} ({o.world_guilds} guilds, heartbeat "
            f"{o.heartbeat_ms} ms); client process starting ({o.shards} shard(s)); "
            f"{o.rate:g} msg/s for {o.duration:g} s; {len(self.kinds)} fault kind(s); "
            f"seed {o.seed}"
        )
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.child.start()
            if await self._settle_ready(max(o.stuck_after, STARTUP_TIMEOUT_S)):
                self.say(f"client ready (pid {self.child.pid})")
                tasks = [
                    asyncio.create_task(self._traffic(), name="chaos traffic"),
                    asyncio.create_task(self._status(), name="chaos status"),
                ]
                faults = asyncio.create_task(self._fault_loop(), name="chaos faults")
                await self._until_end()
                self._ending.set()
                await self._finish(faults)
                self._traffic_stop.set()
                await asyncio.gather(tasks[0], return_exceptions=True)
            else:
                self.bursts.append(BurstRecord(number=0, storm="startup", outcome="stuck",
                                               detail="never ready"))  # fmt: skip
            final_ready = await self._settle_ready(o.stuck_after)
            self._retire_stale_sessions()
            await self._drain()
            facts = server_facts(
                self.emu, self.ledger, self.view.session.values(), self.view.resumed_at()
            )
        finally:
            for task in tasks[1:]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.child.stop(STOP_TIMEOUT_S)
        return self._result(facts, final_ready)

    async def _until_end(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.interrupted.wait(), self.options.duration)
        self.say("interrupted: finishing the burst in progress" if self.interrupted.is_set()
                 else f"{self.options.duration:g} s done: the last burst settles")  # fmt: skip

    async def _finish(self, faults: asyncio.Task[None]) -> None:
        """Let the burst in progress settle (bounded), then end the fault loop."""
        await asyncio.wait({faults}, timeout=self.options.stuck_after * 2 + TARGET_WAIT_S * 8)
        if not faults.done():
            faults.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await faults

    def _result(self, facts: ServerFacts, final_ready: bool) -> ChaosResult:
        view, o = self.view, self.options
        new_sessions = view.count("Connected", lambda e: not e.get("resumed"))
        rss = [(x.t, x.rss) for x in view.samples if x.rss is not None]
        blocks = [(x.t, x.blocks) for x in view.samples if x.blocks]
        return ChaosResult(
            seed=o.seed,
            replay=o.replay_command(),
            accounting=account(self.ledger, facts),
            bursts=self.bursts,
            out_of_order=len(view.out_of_order),
            session_lost_events=view.counts["SessionLost"],
            reidentifies=max(0, new_sessions - len(view.shard_ids)),
            resumes=view.counts["Resumed"],
            identifies=self.emu.identify_count,
            final=view.final or {},
            rss=rss,
            blocks=blocks,
            warmup_until=self.started + o.warmup,
            max_rss_growth_pct=o.max_rss_growth_pct,
            stderr_token_hits=self.child.stderr_token_hits,
            child_returncode=self.child.returncode,
            final_ready=final_ready,
            interrupted=self.interrupted.is_set(),
            elapsed_s=time.monotonic() - self.wall_started,
            settings={k: v for k, v in asdict(o).items() if k not in ("faults", "quiet")},
        )

    # readiness ---------------------------------------------------------------------------

    async def _settle_ready(self, timeout: float) -> bool:
        """Wait until every shard is READY and a marker sent afterwards reached each one.

        A marker lost with an invalidated session (a re-identify happened after it was
        sent) is sent again. Returns False when ``timeout`` passed first.
        """
        deadline = self.loop.time() + timeout
        view = self.view
        while True:
            left = deadline - self.loop.time()
            if not await view.wait(lambda: view.all_ready or not self.child.running, left):
                return False
            if not self.child.running:
                return False
            self._mark += 1
            serial, index = self._mark, len(view.events)
            for gid in self.marker_guild.values():
                await self.emu.dispatch(MARK_EVENT, {"mark": serial}, guild_id=gid, raw=True)
            shards = list(self.marker_guild)
            left = deadline - self.loop.time()
            await view.wait(_marker_or_new_session(view, serial, shards, index), left)
            if view.has_marks(serial, shards) and view.all_ready:
                return True
            if self.loop.time() >= deadline:
                return False

    def _retire_stale_sessions(self) -> None:
        """End server sessions the client no longer holds (a re-identify left them behind).

        On Discord they would expire unused; here they expire at once, so the ledger sees
        them as given up (their events after the client's ``SessionLost`` are gaps) rather
        than as still owed.
        """
        held = {sid for sid in self.view.session.values() if sid is not None}
        for sid, session in list(self.emu.sessions.items()):
            if sid in held or session.state is SessionState.INVALID:
                continue
            if session.state is SessionState.ACTIVE:
                self.emu.faults.drop(session_id=sid)  # a zombie socket still attached
            self.emu.faults.expire_session(sid)

    async def _drain(self) -> None:
        """Wait (bounded) until every message queued into a held session reached the client."""
        pending: set[int] = set()
        for sid in self.view.session.values():
            if sid is not None:
                pending.update(m.message_id for m in self.ledger.missing_in(sid))
        received = self.ledger.received
        await self.view.wait(lambda: all(i in received for i in pending), DRAIN_TIMEOUT_S)

    # traffic and status ------------------------------------------------------------------

    async def _traffic(self) -> None:
        """MESSAGE_CREATE at ``rate`` per second; each one's sessions and seqs recorded."""
        async for serial in paced(self.loop, self.options.rate, self._traffic_stop):
            channel = self._channels[serial % len(self._channels)]
            content = f"chaos message #{serial}"
            message_id = await send_recorded(
                self.emu, self.ledger, channel, content, serial=serial, clock=self.loop.time
            )
            self.serials[message_id] = serial

    async def _status(self) -> None:
        every = self.options.status_every
        if every <= 0:
            return
        while True:
            await asyncio.sleep(every)
            view = self.view
            active = [b.active_s for b in self.bursts if b.active_s is not None]
            median = f"{statistics.median(active) * 1000:.1f} ms" if active else "-"
            rss = view.samples[-1].rss if view.samples else None
            faults = sum(len(b.kinds) for b in self.bursts)
            stuck = sum(1 for b in self.bursts if b.outcome == "stuck")
            self.say(
                f"{'ready' if view.all_ready else 'recovering':<10} faults {faults:6d} "
                f"bursts {len(self.bursts):5d} stuck {stuck}  sent {len(self.ledger.sent):7d} "
                f"delivered {self.ledger.delivered:7d}  recovery median {median}  rss "
                + ("-" if rss is None else f"{rss / 1048576:.1f} MB")
            )

    # faults ------------------------------------------------------------------------------

    async def _fault_loop(self) -> None:
        number = 0
        while not self._ending.is_set():
            if not self.child.running:
                self.say(f"the client process ended (exit {self.child.exit_status})")
                return
            if not await self._settle_ready(self.options.stuck_after):
                self.bursts.append(BurstRecord(number=number, storm="between bursts",
                                               outcome="stuck", detail="not ready"))  # fmt: skip
                # Counted once; then wait for the client (bounded) instead of spinning.
                await self._settle_ready(STARTUP_TIMEOUT_S)
                continue
            number += 1
            storm, kinds = self._draw()
            burst = BurstRecord(number=number, storm=storm)
            if storm == "single":
                burst.expected = _EXPECTED[kinds[0].expect]
            self.bursts.append(burst)
            await self._burst(burst, kinds)
            pause = self.rng.uniform(0.0, self.options.pause_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ending.wait(), pause)

    def _draw(self) -> tuple[str, list[ChaosKind]]:
        """One burst from the seeded RNG: a single fault, or a storm."""
        o, rng = self.options, self.rng
        storms = [(name, pool) for name, pool in STORMS.items()
                  if not pool or any(CHAOS_KINDS[k] in self.kinds for k in pool)]  # fmt: skip
        if rng.random() < o.storm_probability and storms:
            name, pool = rng.choice(storms)
            kinds = [CHAOS_KINDS[k] for k in pool if CHAOS_KINDS[k] in self.kinds] or self.kinds
            size = rng.randint(*o.storm_size)
            return name, rng.choices(kinds, weights=[k.weight for k in kinds], k=size)
        return "single", rng.choices(self.kinds, weights=[k.weight for k in self.kinds], k=1)

    async def _burst(self, burst: BurstRecord, kinds: list[ChaosKind]) -> None:
        index = len(self.view.events)
        strikes: list[tuple[ChaosKind, Strike]] = []
        for position, kind in enumerate(kinds):
            if position:
                await asyncio.sleep(self.rng.uniform(0.0, self.options.storm_gap_s))
            if not await self._live_connection():
                continue
            strike = Strike(self.emu, self.rng, self._target(), self.guild_ids)
            at = self.loop.time()
            if await kind.inject(strike):
                burst.kinds.append(kind.name)
                burst.times.append(at)
                strikes.append((kind, strike))
        if not burst.kinds:
            burst.outcome = "skipped"
            return
        last = strikes[-1][0]
        if last.delayed or (burst.storm == "single" and last.expect is not Expect.HARMLESS):
            # Let a fault whose effect comes later (a missed ACK) show before judging.
            bound = 4 * self.options.heartbeat_ms / 1000 + 1.0
            await self.view.wait(_disconnected_since(self.view, index, burst.times[-1]), bound)
        # The bound runs from the last fault.
        left = self.options.stuck_after - (self.loop.time() - burst.times[-1])
        ready = await self._settle_ready(max(0.0, left))
        for kind, strike in strikes:
            if kind.cleanup is not None:
                await kind.cleanup(strike)
        self._judge(burst, index, ready)
        if not ready:  # counted once: let the client come back before the next burst
            ready = await self._settle_ready(STARTUP_TIMEOUT_S)
        if ready:
            self._retire_stale_sessions()

    async def _live_connection(self) -> bool:
        """Wait (bounded) until the emulator has a socket to hit."""
        deadline = self.loop.time() + TARGET_WAIT_S
        while not any(not c.closing for c in self.emu.connections):
            if self.loop.time() >= deadline:
                return False
            await asyncio.sleep(0.002)
        return True

    def _target(self) -> str | None:
        """Every socket (None), or with several shards sometimes one session's."""
        if self.options.shards == 1 or self.rng.random() < 0.5:
            return None
        active = sorted(sid for sid, s in self.emu.sessions.items()
                        if s.state is SessionState.ACTIVE)  # fmt: skip
        return self.rng.choice(active) if active else None

    def _judge(self, burst: BurstRecord, index: int, ready: bool) -> None:
        """Outcome and recovery times of a burst, from the events since ``index``."""
        names = self.view.events[index:]
        if not ready:
            burst.outcome = "stuck"
            burst.detail = f"not READY within {self.options.stuck_after:g} s of the last fault"
            return
        if any(n == "Connected" and not e.get("resumed") for _t, n, e in names):
            burst.outcome = "reidentified"
        elif any(n == "Resumed" for _t, n, _e in names):
            burst.outcome = "resumed"
        else:
            burst.outcome = "survived"
            return
        readies = [t for t, n, _e in names if n in ("Ready", "Resumed")]
        back = max(readies)
        before = [t for t in burst.times if t <= back]
        if not before:
            return
        start = max(before)
        burst.recovery_s = back - start
        waits = []
        for a, b, _why in reversed(self.view.waits):  # reported in the order they began
            if a < start - self.options.stuck_after:
                break
            if b > start and a < back:
                waits.append((a, b))
        burst.active_s = max(0.0, burst.recovery_s - overlap(start, back, waits))


def _marker_or_new_session(
    view: ClientView, serial: int, shards: list[int], index: int
) -> Callable[[], bool]:
    """The marker reached every shard, or a new session began (it was lost with the old)."""
    return lambda: view.has_marks(serial, shards) or view.new_session_since(index)


def _disconnected_since(view: ClientView, index: int, at: float) -> Callable[[], bool]:
    """A ``Disconnected`` was reported (at or after event ``index``) after time ``at``."""
    return lambda: any(n == "Disconnected" and t >= at for t, n, _e in view.events[index:])
