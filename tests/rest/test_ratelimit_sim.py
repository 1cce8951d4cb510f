"""The pure limiter against a simulated Discord with random network latency (virtual time).

The simulated server keeps its own fixed-window buckets and a sliding global window counted
on *arrival*; requests and answers each take a random 0-30 ms. Whatever the seed, the
client driven by :class:`RateLimiter` must never get a 429, must finish every request,
and must deliver the requests of each route and channel in submission order.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.rest.ratelimit import Action, LimiterConfig, RateLimiter, ResponseInfo, Ticket

GLOBAL_LIMIT, GLOBAL_PERIOD = 8, 0.5


@dataclass
class Server:
    """Fixed windows per (bucket name, major), a sliding global window, answers with headers."""

    buckets: dict[str, tuple[str, int, float]]
    windows: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    arrivals: deque[float] = field(default_factory=deque)
    too_many: list[tuple[str, str]] = field(default_factory=list)

    def handle(self, route: str, major: str, now: float) -> ResponseInfo:
        while self.arrivals and self.arrivals[0] <= now - GLOBAL_PERIOD:
            self.arrivals.popleft()
        if len(self.arrivals) >= GLOBAL_LIMIT:
            self.too_many.append((route, "global"))
            wait = self.arrivals[0] + GLOBAL_PERIOD - now
            return ResponseInfo(status=429, retry_after=wait, scope="global", is_global=True)
        self.arrivals.append(now)
        name, limit, period = self.buckets[route]
        window = self.windows.get((name, major))
        if window is None or now >= window[0]:
            window = self.windows[(name, major)] = [now + period, 0]
        after = math.ceil((window[0] - now) * 1000) / 1000
        digest = hashlib.md5(name.encode()).hexdigest()
        if window[1] >= limit:
            self.too_many.append((route, "user"))
            return ResponseInfo(status=429, bucket=digest, limit=limit, remaining=0,
                                reset_after=after, retry_after=after, scope="user")  # fmt: skip
        window[1] += 1
        return ResponseInfo(status=200, bucket=digest, limit=limit,
                            remaining=int(limit - window[1]), reset_after=after)  # fmt: skip


@dataclass
class Simulation:
    """Discrete events on virtual time: submissions, arrivals, answers and the limiter's timer."""

    server: Server
    rng: random.Random
    limiter: RateLimiter = field(
        default_factory=lambda: RateLimiter(
            LimiterConfig(global_limit=GLOBAL_LIMIT, global_period=GLOBAL_PERIOD)
        )
    )
    events: list[tuple[float, int, str, object]] = field(default_factory=list)
    order: itertools.count[int] = field(default_factory=itertools.count)
    arrived: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    submitted: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    timers: set[float] = field(default_factory=set)
    done: int = 0

    def at(self, time: float, kind: str, payload: object) -> None:
        heapq.heappush(self.events, (time, next(self.order), kind, payload))

    def drain(self, now: float) -> None:
        for ticket in self.limiter.poll(now):
            self.at(now + self.rng.uniform(0, 0.03), "arrive", ticket)
        deadline = self.limiter.next_deadline(now)
        assert deadline is None or deadline > now, "after a poll, nothing may be due"
        if deadline is not None and deadline not in self.timers:
            self.timers.add(deadline)
            self.at(deadline, "timer", None)

    def run(self) -> None:
        while self.events:
            now, _, kind, payload = heapq.heappop(self.events)
            if kind == "submit":
                route, major = payload  # type: ignore[misc]
                ticket = self.limiter.submit(route, major, now=now)
                self.submitted.setdefault((route, major), []).append(ticket.seq)
            elif kind == "arrive":
                assert isinstance(payload, Ticket)
                key = (payload.route, payload.major)
                self.arrived.setdefault(key, []).append(payload.seq)
                info = self.server.handle(payload.route, payload.major, now)
                self.at(now + self.rng.uniform(0, 0.03), "answer", (payload, info))
            elif kind == "answer":
                ticket, info = payload  # type: ignore[misc]
                decision = self.limiter.complete(ticket, info, now)
                if decision.action is Action.DONE:
                    self.done += 1
            self.drain(now)


ROUTES = {
    "POST /channels/{channel_id}/messages": ("create", 5, 0.5),
    "PATCH /channels/{channel_id}/messages/{message_id}": ("edit", 3, 0.3),
    "GET /channels/{channel_id}": ("get", 10, 1.0),
}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), requests=st.integers(20, 150), channels=st.integers(1, 6))
def test_no_429_and_order_kept_under_random_latency(
    seed: int, requests: int, channels: int
) -> None:
    rng = random.Random(seed)
    sim = Simulation(Server(dict(ROUTES)), rng)
    now = 0.0
    for _ in range(requests):
        now += rng.choice((0.0, 0.0, 0.001, 0.05))
        route = rng.choice(list(ROUTES))
        sim.at(now, "submit", (route, f"channel_id={rng.randrange(channels)}"))
    sim.run()
    assert sim.server.too_many == []
    assert sim.done == requests
    assert sim.limiter.queued == 0
    for key, seqs in sim.arrived.items():
        assert seqs == sim.submitted[key], key


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_shared_buckets_only_risk_a_429_before_discovery(seed: int) -> None:
    """Two routes share one bucket; each route's first answer reveals it. 429s can only hit
    requests sent before both routes were discovered, and every request still completes."""
    rng = random.Random(seed)
    shared = ("shared", 4, 0.4)
    routes = {"POST /a/{channel_id}": shared, "POST /b/{channel_id}": shared}
    sim = Simulation(Server(routes), rng)
    now = 0.0
    for _ in range(60):
        now += rng.choice((0.0, 0.002, 0.02))
        sim.at(now, "submit", (rng.choice(list(routes)), "channel_id=1"))
    sim.run()
    assert sim.done == 60
    assert len(sim.server.too_many) <= 1
    for key, seqs in sim.arrived.items():
        # a retried request arrives twice; its first arrival is in order
        assert list(dict.fromkeys(seqs)) == sim.submitted[key], key
