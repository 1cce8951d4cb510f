"""Discord's REST rate limits as pure bookkeeping (spec 11.2-11.4): no I/O, no clock.

Every method takes ``now`` (seconds on any monotonic clock). The driver's contract::

    ticket = limiter.submit(route, major, now=now)      # may raise: guard, dead webhook
    drain:   for t in limiter.poll(now): wake t's waiter  # t.state GRANTED, or REFUSED (t.error)
             arm one timer at limiter.next_deadline(now), and drain again when it fires
    answer:  decision = limiter.complete(t, info, now)   # then drain
             (a transport failure: limiter.fail(t, now); a waiter that gives up:
             limiter.cancel(t, now); then drain)
    RETRY:   t is queued again at the head of its bucket; wait for its next grant

How the limits are kept:

- **Buckets.** A request belongs to the bucket ``(X-RateLimit-Bucket of its route, major
  parameter)``. Until a route's hash is known its requests share a provisional bucket of
  their own. One request per bucket is in flight at a time, so requests of one bucket
  reach Discord in the order they were submitted and every answer's ``Remaining`` /
  ``Reset-After`` is exact; a request is granted only while ``Remaining`` > 0 or after
  the reset. Routes that turn out to share a hash share one queue (merged by submission
  order); a route whose hash changes moves to the new bucket.
- **Global limit** (``global_limit`` per ``global_period``, 50/s on Discord; interaction
  routes are exempt). A request's slot is counted from its *answer*, not from its
  sending: Discord counted it at some moment before the answer arrived, so a slot that
  expires ``global_period`` after the answer can never overlap Discord's window, whatever
  the network's jitter.
- **429s** are waited out and retried (``user``: the bucket; ``global``: every non-exempt
  request; ``shared``: the bucket, not counted as invalid), unless the wait is over
  ``max_rate_limit_wait`` or the request was limited ``max_429_retries`` times already.
- **5xx** and transport failures are retried with exponential backoff for idempotent
  methods only; the bucket holds its later requests meanwhile, keeping their order.
- **The invalid-request guard** counts 401, 403 and 429 answers (not ``shared`` ones) in a
  sliding ``invalid_window``. At ``invalid_limit`` (well below Discord's 10,000 per 10
  minutes) every request is refused with :class:`~tether.errors.InvalidRequestLimit`.
- A webhook (or interaction token) that answered 404 is never called again (spec 11.4).
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass, field

from tether.errors import InvalidRequestLimit, NotFound, TetherError
from tether.rest.windows import GlobalWindow, InvalidRequestGuard, Slot

__all__ = [
    "Action",
    "BucketView",
    "Decision",
    "LimiterConfig",
    "RateLimiter",
    "ResponseInfo",
    "Ticket",
    "TicketState",
]

_PROVISIONAL = "route:"
_RETRYABLE_5XX = frozenset({500, 502, 503, 504})
#: A 404 that does not mean the webhook is gone (its message is).
_UNKNOWN_MESSAGE = 10008
#: Drop idle buckets once there are more than this many (their state is then stale anyway).
_PRUNE_ABOVE = 2048


@dataclass(frozen=True, slots=True, kw_only=True)
class LimiterConfig:
    """The limiter's knobs (defaults: Discord's numbers).

    Attributes:
        global_limit: requests per ``global_period`` across every non-exempt route.
        global_period: the global window in seconds.
        max_rate_limit_wait: a 429 asking to wait longer raises ``RateLimited`` instead.
        max_429_retries: 429s one request may receive before ``RateLimited`` is raised.
        max_5xx_retries: retries of an idempotent request after 5xx or transport failures.
        retry_base: first backoff delay (s); doubled per retry, capped at ``retry_cap``.
        retry_cap: the longest backoff delay (s).
        invalid_limit: invalid answers (401/403/429) per ``invalid_window`` that stop
            sending; Discord bans at 10,000 per 600 s.
        invalid_window: the guard's sliding window in seconds.
        cancel_hold: seconds a request cancelled in flight keeps its global slot after the
            cancel (it may still reach Discord).
    """

    global_limit: int = 50
    global_period: float = 1.0
    max_rate_limit_wait: float = 60.0
    max_429_retries: int = 3
    max_5xx_retries: int = 3
    retry_base: float = 0.5
    retry_cap: float = 8.0
    invalid_limit: int = 5000
    invalid_window: float = 600.0
    cancel_hold: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseInfo:
    """What an answer says about rate limits (parsed by :func:`tether.rest.http.response_info`).

    ``reset_after`` is relative to the moment the answer was received; ``code`` is the JSON
    error code of the body, if any.
    """

    status: int
    bucket: str | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_after: float | None = None
    retry_after: float | None = None
    scope: str | None = None
    is_global: bool = False
    code: int | None = None


class TicketState(enum.Enum):
    """Where a request is in the limiter."""

    QUEUED = "queued"
    GRANTED = "granted"
    DONE = "done"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class Action(enum.Enum):
    """What the driver does after an answer."""

    DONE = "done"  #: hand the answer to the caller (success or error)
    RETRY = "retry"  #: the ticket is queued again; wait for its next grant
    GIVE_UP = "give_up"  #: a 429 not worth waiting for: raise RateLimited


@dataclass(frozen=True, slots=True)
class Decision:
    """The limiter's verdict on an answer; ``delay`` is the wait before a retry."""

    action: Action
    delay: float = 0.0


@dataclass(eq=False, slots=True)
class Ticket:
    """One request's place in the limiter (compared by identity).

    Attributes:
        seq: submission order.
        route: the route key (``"POST /channels/{channel_id}/messages"``).
        major: the major parameter (``"channel_id=1"``).
        global_exempt: not counted against the global limit.
        idempotent: may be retried after a 5xx or a transport failure.
        state: see :class:`TicketState`.
        attempts: how many times it was granted (sent).
        rate_limited: how many 429s it received.
        error: why it was refused (state REFUSED).
    """

    seq: int
    route: str
    major: str
    global_exempt: bool
    idempotent: bool
    state: TicketState = TicketState.QUEUED
    attempts: int = 0
    rate_limited: int = 0
    error: TetherError | None = None
    _bucket: _Bucket | None = field(default=None, repr=False)
    _slot: Slot | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class BucketView:
    """A read-only snapshot of one bucket (for tests and introspection)."""

    bucket: str
    major: str
    limit: int | None
    remaining: int
    reset_at: float | None
    queued: int
    in_flight: int


@dataclass(eq=False, slots=True)
class _Bucket:
    ident: str
    major: str
    limit: int | None = None
    remaining: int = 0
    reset_at: float | None = None
    hold_until: float = 0.0
    queue: list[Ticket] = field(default_factory=list)
    in_flight: list[Ticket] = field(default_factory=list)

    def refresh(self, now: float) -> None:
        """Start the next window locally once the reset time has passed."""
        if self.limit is not None and self.reset_at is not None and now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = None

    def exhausted(self) -> bool:
        return self.limit is not None and self.remaining <= 0 and self.reset_at is not None

    def ready_at(self, now: float) -> float | None:
        """When the head of the queue may go, ignoring the global limit (None: after an answer)."""
        if self.in_flight:
            return None
        self.refresh(now)
        at = max(now, self.hold_until)
        if self.exhausted():
            assert self.reset_at is not None
            at = max(at, self.reset_at)
        return at


class RateLimiter:
    """Per-bucket queues, the global window and the invalid-request guard (see the module doc).

    Args:
        config: the knobs (Discord's defaults when omitted).
    """

    def __init__(self, config: LimiterConfig | None = None) -> None:
        self.config = config or LimiterConfig()
        self._seq = 0
        self._route_hash: dict[str, str] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._global = GlobalWindow(self.config.global_limit, self.config.global_period)
        self._guard = InvalidRequestGuard(self.config.invalid_limit, self.config.invalid_window)
        self._dead: set[str] = set()

    # ------------------------------------------------------------------ inputs
    def submit(
        self,
        route: str,
        major: str = "",
        *,
        now: float,
        global_exempt: bool = False,
        idempotent: bool = False,
    ) -> Ticket:
        """Queue a request at the tail of its bucket; drain with :meth:`poll` afterwards.

        Raises:
            InvalidRequestLimit: the guard has tripped; nothing may be sent now.
            NotFound: this webhook or interaction token answered 404 before.
        """
        if major in self._dead:
            raise NotFound(404, 10015, "Unknown Webhook (it answered 404 before)", route=route)
        error = self._guard.error(now)
        if error is not None:
            raise error
        self._seq += 1
        ticket = Ticket(self._seq, route, major, global_exempt, idempotent)
        self._enqueue(ticket, self._bucket_for(route, major))
        return ticket

    def complete(self, ticket: Ticket, info: ResponseInfo, now: float) -> Decision:
        """Learn from the answer to a granted ticket and decide what follows.

        Returns:
            DONE (hand the answer over), RETRY (queued again, at the head of its bucket),
            or GIVE_UP (a 429 not worth waiting for).
        """
        self._release(ticket, answered_at=now)
        bucket = self._learn(ticket, info, now)
        status = info.status
        if status == 429:
            return self._rate_limited(ticket, bucket, info, now)
        if status in (401, 403):
            self._guard.record(now)
        if status == 404 and "+" in ticket.major and info.code != _UNKNOWN_MESSAGE:
            self._dead.add(ticket.major)
        if status in _RETRYABLE_5XX:
            return self._backoff(ticket, bucket, now)
        ticket.state = TicketState.DONE
        return Decision(Action.DONE)

    def fail(self, ticket: Ticket, now: float) -> Decision:
        """The granted request got no answer (connection error, timeout): retry or give up."""
        self._release(ticket, answered_at=now)
        return self._backoff(ticket, self._bucket_for(ticket.route, ticket.major), now)

    def cancel(self, ticket: Ticket, now: float) -> None:
        """The caller gave up: free the ticket's place (queued) or its bucket (in flight)."""
        if ticket.state is TicketState.QUEUED and ticket._bucket is not None:
            ticket._bucket.queue.remove(ticket)
            self._forget_if_idle(ticket._bucket)
        elif ticket.state is TicketState.GRANTED:
            self._release(ticket, answered_at=now + self.config.cancel_hold)
        if ticket.state in (TicketState.QUEUED, TicketState.GRANTED):
            ticket.state = TicketState.CANCELLED
        ticket._bucket = None

    # ------------------------------------------------------------------ outputs
    def poll(self, now: float) -> list[Ticket]:
        """Grant every request that may go now (one per bucket, fairly across buckets).

        Returns:
            Tickets now GRANTED (send them) or REFUSED (raise their ``error``).
        """
        error = self._guard.error(now)
        if error is not None:
            return self._refuse_all(error)
        heads = [
            b for b in list(self._buckets.values()) if b.queue and b.ready_at(now) == now
        ]
        heads.sort(key=lambda b: b.queue[0].seq)
        granted = []
        for bucket in heads:
            ticket = bucket.queue[0]
            if not ticket.global_exempt:
                if not self._global.has_room(now):
                    continue
                ticket._slot = self._global.take()
            bucket.queue.pop(0)
            bucket.in_flight.append(ticket)
            if bucket.limit is not None:
                bucket.remaining -= 1
            ticket.state = TicketState.GRANTED
            ticket.attempts += 1
            granted.append(ticket)
        if len(self._buckets) > _PRUNE_ABOVE:
            self._prune(now)
        return granted

    def next_deadline(self, now: float) -> float | None:
        """When :meth:`poll` may grant more without any new answer (None: only after one)."""
        times = []
        for bucket in self._buckets.values():
            if not bucket.queue:
                continue
            at = bucket.ready_at(now)
            if at is None:
                continue
            if not bucket.queue[0].global_exempt:
                room = self._global.room_at(now)
                if room is None:
                    continue
                at = max(at, room)
            times.append(at)
        return min(times) if times else None

    def invalid_count(self, now: float) -> int:
        """Invalid answers (401/403/429 except shared) counted in the guard's window."""
        return self._guard.count(now)

    def bucket_hash(self, route: str) -> str | None:
        """The ``X-RateLimit-Bucket`` learned for a route key, if any."""
        return self._route_hash.get(route)

    def view(self, route: str, major: str = "") -> BucketView | None:
        """The bucket a request of ``route`` / ``major`` would join now, if it exists."""
        bucket = self._buckets.get((self._ident(route), major))
        if bucket is None:
            return None
        return BucketView(
            bucket.ident,
            bucket.major,
            bucket.limit,
            bucket.remaining,
            bucket.reset_at,
            len(bucket.queue),
            len(bucket.in_flight),
        )

    @property
    def queued(self) -> int:
        """Requests waiting for a grant."""
        return sum(len(b.queue) for b in self._buckets.values())

    # ------------------------------------------------------------------ internals
    def _ident(self, route: str) -> str:
        return self._route_hash.get(route) or _PROVISIONAL + route

    def _bucket_for(self, route: str, major: str) -> _Bucket:
        key = (self._ident(route), major)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(key[0], major)
        return bucket

    def _enqueue(self, ticket: Ticket, bucket: _Bucket, *, in_flight: bool = False) -> None:
        ticket._bucket = bucket
        if in_flight:
            bucket.in_flight.append(ticket)
        else:
            bisect.insort(bucket.queue, ticket, key=lambda t: t.seq)

    def _release(self, ticket: Ticket, *, answered_at: float) -> None:
        bucket = ticket._bucket
        if bucket is not None and ticket in bucket.in_flight:
            bucket.in_flight.remove(ticket)
        if ticket._slot is not None:
            ticket._slot.answered_at = answered_at
            ticket._slot = None

    def _learn(self, ticket: Ticket, info: ResponseInfo, now: float) -> _Bucket:
        """Apply the answer's headers; move the route if its bucket hash is new or changed."""
        if info.bucket and self._route_hash.get(ticket.route) != info.bucket:
            self._route_hash[ticket.route] = info.bucket
            self._rehome(ticket.route)
        bucket = self._bucket_for(ticket.route, ticket.major)
        ticket._bucket = bucket
        if info.limit is not None and info.remaining is not None and info.reset_after is not None:
            bucket.limit = max(1, info.limit)
            bucket.remaining = max(0, info.remaining - len(bucket.in_flight))
            bucket.reset_at = now + max(0.0, info.reset_after)
        return bucket

    def _rehome(self, route: str) -> None:
        """Move every queued and in-flight ticket of ``route`` into its (new) bucket."""
        for bucket in list(self._buckets.values()):
            moving = [t for t in bucket.queue if t.route == route]
            flying = [t for t in bucket.in_flight if t.route == route]
            if not moving and not flying:
                continue
            target = self._bucket_for(route, bucket.major)
            if target is bucket:
                continue
            for ticket in moving:
                bucket.queue.remove(ticket)
                self._enqueue(ticket, target)
            for ticket in flying:
                bucket.in_flight.remove(ticket)
                self._enqueue(ticket, target, in_flight=True)
            target.hold_until = max(target.hold_until, bucket.hold_until)
            self._forget_if_idle(bucket)

    def _rate_limited(
        self, ticket: Ticket, bucket: _Bucket, info: ResponseInfo, now: float
    ) -> Decision:
        wait = info.retry_after if info.retry_after is not None else info.reset_after
        wait = max(0.0, wait if wait is not None else 1.0)
        scope = info.scope or ("global" if info.is_global else "user")
        if scope != "shared":
            self._guard.record(now)
        if scope == "global" or info.is_global:
            self._global.blocked_until = max(self._global.blocked_until, now + wait)
        elif scope == "shared":
            bucket.hold_until = max(bucket.hold_until, now + wait)
        else:
            if bucket.limit is None:
                bucket.limit = 1
            bucket.remaining = 0
            bucket.reset_at = max(bucket.reset_at or now, now + wait)
        ticket.rate_limited += 1
        if wait > self.config.max_rate_limit_wait or (
            ticket.rate_limited > self.config.max_429_retries
        ):
            ticket.state = TicketState.DONE
            self._forget_if_idle(bucket)
            return Decision(Action.GIVE_UP, wait)
        self._requeue(ticket, bucket)
        return Decision(Action.RETRY, wait)

    def _backoff(self, ticket: Ticket, bucket: _Bucket, now: float) -> Decision:
        failures = ticket.attempts - ticket.rate_limited
        if not ticket.idempotent or failures > self.config.max_5xx_retries:
            ticket.state = TicketState.DONE
            self._forget_if_idle(bucket)
            return Decision(Action.DONE)
        delay = min(self.config.retry_cap, self.config.retry_base * 2 ** (failures - 1))
        bucket.hold_until = max(bucket.hold_until, now + delay)
        self._requeue(ticket, bucket)
        return Decision(Action.RETRY, delay)

    def _requeue(self, ticket: Ticket, bucket: _Bucket) -> None:
        ticket.state = TicketState.QUEUED
        self._enqueue(ticket, bucket)

    def _refuse_all(self, error: InvalidRequestLimit) -> list[Ticket]:
        refused = []
        for bucket in list(self._buckets.values()):
            for ticket in bucket.queue:
                ticket.state = TicketState.REFUSED
                ticket.error = error
                ticket._bucket = None
                refused.append(ticket)
            bucket.queue.clear()
            self._forget_if_idle(bucket)
        return refused

    def _forget_if_idle(self, bucket: _Bucket) -> None:
        """Drop a provisional bucket once nothing uses it (its identity is gone)."""
        if not bucket.ident.startswith(_PROVISIONAL) or bucket.queue or bucket.in_flight:
            return
        if bucket.limit is None or self._route_hash.get(bucket.ident[len(_PROVISIONAL) :]):
            self._buckets.pop((bucket.ident, bucket.major), None)

    def _prune(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            if bucket.queue or bucket.in_flight or bucket.hold_until > now:
                continue
            bucket.refresh(now)
            if bucket.reset_at is None:
                del self._buckets[key]
