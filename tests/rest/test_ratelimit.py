"""The pure REST rate limiter on a fake clock (spec 11.2-11.4): buckets, global, 429s, guard."""

from __future__ import annotations

import pytest

from tether.errors import InvalidRequestLimit, NotFound
from tether.rest.ratelimit import (
    Action,
    LimiterConfig,
    RateLimiter,
    ResponseInfo,
    Ticket,
    TicketState,
)

MSG = "POST /channels/{channel_id}/messages"
DEL = "DELETE /channels/{channel_id}/messages/{message_id}"
GET = "GET /channels/{channel_id}"
CB = "POST /interactions/{interaction_id}/{interaction_token}/callback"
C1, C2 = "channel_id=1", "channel_id=2"


def ok(
    bucket: str = "b1", limit: int = 5, remaining: int = 4, reset_after: float = 1.0
) -> ResponseInfo:
    return ResponseInfo(
        status=200, bucket=bucket, limit=limit, remaining=remaining, reset_after=reset_after
    )


def submit(limiter: RateLimiter, n: int, route: str = MSG, major: str = C1, now: float = 0.0,
           **kw: bool) -> list[Ticket]:  # fmt: skip
    return [limiter.submit(route, major, now=now, **kw) for _ in range(n)]


class TestBuckets:
    """Spec 11.2: per-route buckets, discovered from the headers, one request in flight each."""

    def test_an_unknown_bucket_sends_one_request_until_it_learns(self) -> None:
        limiter = RateLimiter()
        a, b, c = submit(limiter, 3)
        assert limiter.poll(0.0) == [a]
        assert a.state is TicketState.GRANTED and b.state is TicketState.QUEUED
        assert limiter.poll(0.0) == []
        assert limiter.next_deadline(0.0) is None  # only an answer can move it
        assert limiter.complete(a, ok(remaining=4), 0.01).action is Action.DONE
        assert limiter.poll(0.01) == [b]
        assert limiter.bucket_hash(MSG) == "b1"

    def test_remaining_and_reset_after_are_respected_before_sending(self) -> None:
        limiter = RateLimiter()
        tickets = submit(limiter, 4)
        now = 0.0
        for ticket, remaining in zip(tickets[:2], (1, 0), strict=True):
            assert limiter.poll(now) == [ticket]
            now += 0.01
            limiter.complete(ticket, ok(limit=2, remaining=remaining, reset_after=0.5), now)
        assert limiter.poll(now) == []
        reset = now + 0.5
        assert limiter.next_deadline(now) == pytest.approx(reset)
        assert limiter.poll(reset - 1e-6) == []
        assert limiter.poll(reset) == [tickets[2]]
        view = limiter.view(MSG, C1)
        assert view is not None
        assert (view.limit, view.remaining, view.in_flight, view.queued) == (2, 1, 1, 1)

    def test_requests_of_one_bucket_are_granted_in_submission_order(self) -> None:
        limiter = RateLimiter()
        tickets = submit(limiter, 20)
        granted = []
        now = 0.0
        while len(granted) < 20:
            for ticket in limiter.poll(now):
                granted.append(ticket)
                limiter.complete(ticket, ok(limit=100, remaining=99), now)
            now += 0.001
        assert [t.seq for t in granted] == [t.seq for t in tickets]

    def test_major_parameters_are_separate_buckets(self) -> None:
        limiter = RateLimiter()
        a = limiter.submit(MSG, C1, now=0)
        b = limiter.submit(MSG, C2, now=0)
        assert limiter.poll(0) == [a, b]
        limiter.complete(a, ok(remaining=0, reset_after=5), 0.01)
        limiter.complete(b, ok(remaining=3), 0.01)
        c = limiter.submit(MSG, C1, now=0.02)
        d = limiter.submit(MSG, C2, now=0.02)
        assert limiter.poll(0.02) == [d]
        assert c.state is TicketState.QUEUED

    def test_routes_that_share_a_hash_share_one_queue(self) -> None:
        limiter = RateLimiter()
        first = limiter.submit(MSG, C1, now=0)
        limiter.poll(0)
        limiter.complete(first, ok(bucket="shared", remaining=3), 0.01)
        probe = limiter.submit(DEL, C1, now=0.02)
        assert limiter.poll(0.02) == [probe]  # DEL's bucket is unknown: it probes alone
        waiting = [limiter.submit(MSG, C1, now=0.02), limiter.submit(DEL, C1, now=0.02)]
        limiter.complete(probe, ok(bucket="shared", remaining=1), 0.03)
        assert limiter.bucket_hash(DEL) == "shared"
        assert limiter.poll(0.03) == [waiting[0]]  # one queue, one in flight
        limiter.complete(waiting[0], ok(bucket="shared", remaining=0, reset_after=1.0), 0.04)
        assert limiter.poll(0.5) == []
        assert limiter.poll(1.04) == [waiting[1]]

    def test_a_route_whose_bucket_changes_moves_its_queue(self) -> None:
        limiter = RateLimiter()
        a, b, c = submit(limiter, 3)
        limiter.poll(0)
        limiter.complete(a, ok(bucket="old", remaining=3), 0.01)
        assert limiter.poll(0.01) == [b]
        limiter.complete(b, ok(bucket="new", limit=1, remaining=0, reset_after=2.0), 0.02)
        assert limiter.bucket_hash(MSG) == "new"
        assert limiter.poll(1.0) == []
        assert limiter.next_deadline(1.0) == pytest.approx(2.02)
        assert limiter.poll(2.02) == [c]
        view = limiter.view(MSG, C1)
        assert view is not None and view.bucket == "new"

    def test_answers_without_headers_leave_the_bucket_unlimited_but_serial(self) -> None:
        limiter = RateLimiter()
        a, b = submit(limiter, 2, route=GET)
        limiter.poll(0)
        limiter.complete(a, ResponseInfo(status=200), 0.01)
        assert limiter.poll(0.01) == [b]


class TestGlobal:
    """Spec 11.2: the global limit, counted from each answer; interaction routes exempt."""

    def config(self) -> LimiterConfig:
        return LimiterConfig(global_limit=3, global_period=1.0)

    def test_a_slot_frees_one_period_after_its_answer(self) -> None:
        limiter = RateLimiter(self.config())
        tickets = [limiter.submit(MSG, f"channel_id={i}", now=0) for i in range(5)]
        assert limiter.poll(0) == tickets[:3]
        assert limiter.next_deadline(0) is None  # every slot is in flight
        limiter.complete(tickets[0], ok(), 0.2)
        assert limiter.next_deadline(0.2) == pytest.approx(1.2)
        assert limiter.poll(1.19) == []
        assert limiter.poll(1.2) == [tickets[3]]

    def test_exempt_routes_pass_a_full_window(self) -> None:
        limiter = RateLimiter(self.config())
        submit(limiter, 1, major=C1)
        submit(limiter, 1, major=C2)
        submit(limiter, 1, major="channel_id=3")
        assert len(limiter.poll(0)) == 3
        callback = limiter.submit(CB, "interaction_id=9+abc", now=0, global_exempt=True)
        blocked = limiter.submit(MSG, "channel_id=4", now=0)
        assert limiter.poll(0) == [callback]
        assert blocked.state is TicketState.QUEUED

    def test_the_oldest_bucket_head_gets_a_scarce_slot(self) -> None:
        limiter = RateLimiter(LimiterConfig(global_limit=1))
        a = limiter.submit(MSG, C1, now=0)
        b = limiter.submit(MSG, C2, now=0)
        c = limiter.submit(MSG, "channel_id=3", now=0)
        assert limiter.poll(0) == [a]
        limiter.complete(a, ok(), 0.1)
        assert limiter.poll(1.1) == [b]
        limiter.complete(b, ok(), 1.2)
        assert limiter.poll(2.2) == [c]


class TestTooManyRequests:
    """Spec 11.3-11.4: 429 by scope, retried at the head of its bucket; the guard counts them."""

    def test_user_scope_blocks_the_bucket_and_retries_first(self) -> None:
        limiter = RateLimiter()
        a, b = submit(limiter, 2)
        limiter.poll(0)
        info = ResponseInfo(status=429, bucket="b1", limit=5, remaining=0, reset_after=0.7,
                            retry_after=0.7, scope="user")  # fmt: skip
        decision = limiter.complete(a, info, 0.01)
        assert (decision.action, decision.delay) == (Action.RETRY, 0.7)
        assert a.state is TicketState.QUEUED
        assert limiter.poll(0.5) == []
        assert limiter.poll(0.71) == [a]  # the retried request keeps its place before b
        assert limiter.invalid_count(0.71) == 1

    def test_global_scope_blocks_every_route_but_exempt_ones(self) -> None:
        limiter = RateLimiter()
        a = limiter.submit(MSG, C1, now=0)
        limiter.poll(0)
        info = ResponseInfo(status=429, retry_after=2.0, scope="global", is_global=True)
        assert limiter.complete(a, info, 0.0).action is Action.RETRY
        other = limiter.submit(GET, C2, now=0.1)
        callback = limiter.submit(CB, "interaction_id=1+x", now=0.1, global_exempt=True)
        assert limiter.poll(0.1) == [callback]
        assert limiter.next_deadline(0.1) == pytest.approx(2.0)
        assert set(limiter.poll(2.0)) == {a, other}
        assert limiter.invalid_count(2.0) == 1

    def test_shared_scope_holds_the_bucket_and_is_not_invalid(self) -> None:
        limiter = RateLimiter()
        a = limiter.submit(MSG, C1, now=0)
        limiter.poll(0)
        info = ResponseInfo(status=429, bucket="b1", retry_after=0.3, scope="shared")
        assert limiter.complete(a, info, 0.0).action is Action.RETRY
        assert limiter.poll(0.29) == []
        assert limiter.poll(0.3) == [a]
        assert limiter.invalid_count(0.3) == 0

    def test_a_wait_too_long_or_too_many_429s_give_up(self) -> None:
        limiter = RateLimiter(LimiterConfig(max_rate_limit_wait=10, max_429_retries=2))
        a = limiter.submit(MSG, C1, now=0)
        limiter.poll(0)
        long = ResponseInfo(status=429, retry_after=30.0, scope="user")
        assert limiter.complete(a, long, 0).action is Action.GIVE_UP
        b = limiter.submit(MSG, C2, now=0)
        short = ResponseInfo(status=429, retry_after=0.1, scope="shared")
        now = 0.0
        actions = []
        for _ in range(3):
            now += 0.2
            assert limiter.poll(now) == [b]
            actions.append(limiter.complete(b, short, now).action)
        assert actions == [Action.RETRY, Action.RETRY, Action.GIVE_UP]


class TestServerErrors:
    """5xx and transport failures: backoff and retry for idempotent methods only."""

    def test_idempotent_requests_back_off_then_give_up(self) -> None:
        limiter = RateLimiter(LimiterConfig(retry_base=0.1, max_5xx_retries=3))
        a = limiter.submit(GET, C1, now=0, idempotent=True)
        delays = []
        now = 0.0
        for _ in range(4):
            deadline = limiter.next_deadline(now)
            assert deadline is not None
            now = deadline
            assert limiter.poll(now) == [a]
            decision = limiter.complete(a, ResponseInfo(status=503), now)
            delays.append(decision.delay if decision.action is Action.RETRY else None)
        assert delays == [0.1, 0.2, 0.4, None]
        assert a.attempts == 4

    def test_a_post_is_never_sent_twice(self) -> None:
        limiter = RateLimiter()
        a = limiter.submit(MSG, C1, now=0)
        limiter.poll(0)
        assert limiter.complete(a, ResponseInfo(status=502), 0).action is Action.DONE
        b = limiter.submit(MSG, C1, now=0)
        limiter.poll(0)
        assert limiter.fail(b, 0.1).action is Action.DONE

    def test_a_retry_holds_the_requests_behind_it(self) -> None:
        limiter = RateLimiter(LimiterConfig(retry_base=0.5))
        a = limiter.submit(GET, C1, now=0, idempotent=True)
        b = limiter.submit(GET, C1, now=0, idempotent=True)
        limiter.poll(0)
        assert limiter.fail(a, 0.0).action is Action.RETRY
        assert limiter.poll(0.4) == []
        assert limiter.poll(0.5) == [a]
        limiter.complete(a, ResponseInfo(status=200), 0.6)
        assert limiter.poll(0.6) == [b]


class TestCancel:
    """A waiting request that is cancelled frees its place; one in flight frees its bucket."""

    def test_a_queued_ticket_leaves_the_queue(self) -> None:
        limiter = RateLimiter()
        a, b, c = submit(limiter, 3)
        limiter.poll(0)
        limiter.cancel(b, 0.0)
        assert b.state is TicketState.CANCELLED
        limiter.complete(a, ok(), 0.01)
        assert limiter.poll(0.01) == [c]
        assert limiter.queued == 0

    def test_a_ticket_in_flight_frees_the_bucket_and_holds_its_global_slot(self) -> None:
        limiter = RateLimiter(LimiterConfig(global_limit=1, cancel_hold=1.0))
        a, b = submit(limiter, 2)
        limiter.poll(0)
        limiter.cancel(a, 0.5)
        assert limiter.poll(0.5) == []  # the slot may still reach Discord
        assert limiter.next_deadline(0.5) == pytest.approx(2.5)
        assert limiter.poll(2.5) == [b]


class TestGuard:
    """Spec 11.4: 401/403/429 counted; sending stops well before the ban."""

    def test_the_guard_refuses_new_and_queued_requests_until_the_window_slides(self) -> None:
        limiter = RateLimiter(LimiterConfig(invalid_limit=3, invalid_window=10.0))
        for n in range(3):
            t = limiter.submit(MSG, f"channel_id={n}", now=n)
            limiter.poll(n)
            limiter.complete(t, ResponseInfo(status=403 if n else 401), n)
        with pytest.raises(InvalidRequestLimit) as caught:
            limiter.submit(MSG, C1, now=3.0)
        assert (caught.value.count, caught.value.limit) == (3, 3)
        assert caught.value.retry_after == pytest.approx(7.0)
        assert "10,000" in str(caught.value)
        t = limiter.submit(MSG, C1, now=10.5)  # the first one slid out
        assert limiter.poll(10.5) == [t]

    def test_requests_already_queued_are_refused_when_it_trips(self) -> None:
        limiter = RateLimiter(LimiterConfig(invalid_limit=1))
        a, b = submit(limiter, 2)
        limiter.poll(0)
        limiter.complete(a, ResponseInfo(status=403), 0.1)
        assert limiter.poll(0.1) == [b]
        assert b.state is TicketState.REFUSED
        assert isinstance(b.error, InvalidRequestLimit)

    def test_a_webhook_that_answered_404_is_not_called_again(self) -> None:
        limiter = RateLimiter()
        major = "application_id=1+deadbeef"
        a = limiter.submit("POST /webhooks/{application_id}/{interaction_token}", major, now=0)
        limiter.poll(0)
        limiter.complete(a, ResponseInfo(status=404, code=10015), 0)
        with pytest.raises(NotFound):
            limiter.submit("POST /webhooks/{application_id}/{interaction_token}", major, now=1)
        b = limiter.submit(MSG, C1, now=1)  # other routes are not affected
        limiter.poll(1)
        limiter.complete(b, ResponseInfo(status=404, code=10003), 1)
        limiter.submit(MSG, C1, now=2)
