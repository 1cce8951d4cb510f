"""The client-side send limit (gateway/limiter.py), spec 6.1: 120 payloads per 60 s sliding
window per connection; ordinary commands get 115 of them, heartbeats may use the reserve."""

from __future__ import annotations

from tether.gateway.limiter import SendLimiter


def fill(limiter: SendLimiter, count: int, *, start: float = 0.0, step: float = 0.0) -> None:
    for i in range(count):
        limiter.record(start + i * step)


class TestSendRateLimit:
    """Spec 6.1 Send rate ([EMU]: 115 per 60 s for commands, heartbeats never queued)."""

    def test_defaults_match_the_spec(self) -> None:
        limiter = SendLimiter()
        assert (limiter.limit, limiter.window, limiter.reserved) == (120, 60.0, 5)

    def test_115_commands_then_wait(self) -> None:
        limiter = SendLimiter()
        for i in range(115):
            assert limiter.can_send(0.0), i
            limiter.record(0.0)
        assert not limiter.can_send(0.0)
        assert not limiter.can_send(59.999)

    def test_heartbeats_use_the_reserve_up_to_120(self) -> None:
        limiter = SendLimiter()
        fill(limiter, 115)
        for i in range(5):
            assert limiter.can_send(1.0, heartbeat=True), i
            limiter.record(1.0)
        assert not limiter.can_send(1.0, heartbeat=True)
        assert not limiter.can_send(1.0)

    def test_heartbeats_count_against_the_command_room(self) -> None:
        limiter = SendLimiter()
        fill(limiter, 10)  # e.g. IDENTIFY plus heartbeats
        for _ in range(105):
            assert limiter.can_send(0.0)
            limiter.record(0.0)
        assert not limiter.can_send(0.0)

    def test_window_slides(self) -> None:
        limiter = SendLimiter()
        fill(limiter, 115, start=0.0, step=0.5)  # sends at 0.0, 0.5, ..., 57.0
        assert not limiter.can_send(57.0)
        assert not limiter.can_send(59.999)
        assert limiter.can_send(60.0)  # the send at 0.0 left the window exactly now
        limiter.record(60.0)
        assert not limiter.can_send(60.2)
        assert limiter.can_send(60.5)

    def test_a_full_window_empties_after_60_s(self) -> None:
        limiter = SendLimiter()
        fill(limiter, 120, start=10.0)
        assert not limiter.can_send(69.9, heartbeat=True)
        assert limiter.can_send(70.0, heartbeat=True)
        assert limiter.can_send(70.0)

    def test_earliest_free_and_next_free_with_room(self) -> None:
        limiter = SendLimiter()
        fill(limiter, 114, start=5.0)
        assert limiter.earliest_free() <= 5.0  # "a past time means now"
        assert limiter.next_free(42.0) == 42.0

    def test_earliest_free_and_next_free_when_full(self) -> None:
        limiter = SendLimiter()
        fill(limiter, 115, start=0.0, step=0.5)
        assert limiter.earliest_free() == 60.0
        assert limiter.next_free(30.0) == 60.0
        assert limiter.can_send(limiter.next_free(30.0))

    def test_earliest_free_counts_heartbeats_in_the_reserve(self) -> None:
        limiter = SendLimiter()
        fill(limiter, 120, start=0.0, step=0.25)  # 0.0 ... 29.75
        # 120 in the window; commands need <115, so the 6th oldest (1.25 s) must leave first.
        assert limiter.earliest_free() == 61.25
        assert limiter.next_free(10.0) == 61.25
        assert not limiter.can_send(61.0)
        assert limiter.can_send(61.25)

    def test_next_free_paces_a_saturating_sender_exactly(self) -> None:
        limiter = SendLimiter(limit=10, window=5.0, reserved=2)
        t = 0.0
        sent: list[float] = []
        for _ in range(50):
            nxt = limiter.next_free(t)
            expected = t if len(sent) < 8 else max(t, sent[-8] + 5.0)
            assert nxt == expected
            t = nxt
            assert limiter.can_send(t)
            limiter.record(t)
            sent.append(t)
        for i, start in enumerate(sent):
            assert len([s for s in sent[i:] if s < start + 5.0]) <= 8

    def test_custom_limits(self) -> None:
        limiter = SendLimiter(limit=3, window=1.0, reserved=1)
        fill(limiter, 2)
        assert not limiter.can_send(0.0)
        assert limiter.can_send(0.0, heartbeat=True)
        limiter.record(0.0)
        assert not limiter.can_send(0.5, heartbeat=True)
        assert limiter.next_free(0.5) == 1.0
