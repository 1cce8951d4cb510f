"""Reconnect backoff (gateway/backoff.py), spec 5.7: immediate first retry after a healthy
connection, full jitter within ``[0, min(cap, base * 2**(n-1))]`` for consecutive failures,
a cap, and a reset only once a connection stayed up for ``stable_after`` seconds."""

from __future__ import annotations

import random

import pytest

from tether.gateway.backoff import Backoff


def ceiling(n: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """The upper bound of the n-th consecutive failure's delay (n >= 1)."""
    return float(min(cap, base * 2 ** (n - 1)))


class TestReconnectBackoff:
    """Spec 5.7 Backoff ([EMU] schedule: full jitter, capped at 60 s)."""

    def test_first_attempt_is_immediate(self) -> None:
        assert Backoff().next_delay(0.0, random.Random(0)) == 0.0

    @pytest.mark.parametrize("seed", range(5))
    def test_consecutive_failures_draw_full_jitter_from_the_doubling_ceiling(
        self, seed: int
    ) -> None:
        backoff = Backoff(base=1.0, cap=60.0)
        rng = random.Random(seed)
        twin = random.Random(seed)
        assert backoff.next_delay(0.0, rng) == 0.0
        for n in range(1, 12):
            delay = backoff.next_delay(float(n), rng)
            assert 0.0 <= delay <= ceiling(n)
            assert delay == twin.uniform(0.0, ceiling(n))  # exactly one draw per failure
        assert backoff.failures == 12

    def test_jitter_covers_the_whole_range(self) -> None:
        # Full jitter: the 4th failure (ceiling 8 s) spreads over [0, 8], not around 8.
        delays = []
        for seed in range(200):
            backoff = Backoff()
            rng = random.Random(seed)
            for _ in range(4):
                backoff.next_delay(0.0, rng)
            delays.append(backoff.next_delay(0.0, rng))
        assert min(delays) < 1.0
        assert max(delays) > 7.0
        assert all(0.0 <= d <= 8.0 for d in delays)

    def test_cap(self) -> None:
        backoff = Backoff(base=0.5, cap=10.0)
        rng = random.Random(7)
        delays = [backoff.next_delay(0.0, rng) for _ in range(60)]
        assert all(0.0 <= d <= 10.0 for d in delays)
        assert max(delays[10:]) > 9.0  # the cap is the ceiling, not something lower

    def test_base_scales_the_ceiling(self) -> None:
        backoff = Backoff(base=0.25, cap=60.0)
        rng = random.Random(3)
        backoff.next_delay(0.0, rng)
        assert backoff.next_delay(0.0, rng) <= 0.25
        assert backoff.next_delay(0.0, rng) <= 0.5

    def test_stable_connection_resets_the_counter(self) -> None:
        backoff = Backoff(stable_after=1.0)
        rng = random.Random(1)
        for _ in range(6):
            backoff.next_delay(0.0, rng)
        backoff.connected(100.0)
        assert backoff.next_delay(101.0, rng) == 0.0  # exactly stable_after later
        assert 0.0 <= backoff.next_delay(102.0, rng) <= 1.0

    def test_short_lived_connection_does_not_reset(self) -> None:
        backoff = Backoff(stable_after=5.0)
        rng = random.Random(2)
        for _ in range(4):
            backoff.next_delay(0.0, rng)
        backoff.connected(10.0)
        twin = random.Random(2)
        for _ in range(3):
            twin.uniform(0, 1)
        expected = twin.uniform(0.0, ceiling(4))
        assert backoff.next_delay(14.9, rng) == expected
        assert backoff.failures == 5

    def test_connected_is_forgotten_after_one_decision(self) -> None:
        backoff = Backoff(stable_after=1.0)
        rng = random.Random(4)
        backoff.connected(0.0)
        assert backoff.next_delay(10.0, rng) == 0.0
        # The next failure did not connect again: it is the first *consecutive* failure.
        assert 0.0 < backoff.next_delay(20.0, rng) <= 1.0

    def test_thousands_of_consecutive_failures_stay_capped(self) -> None:
        # A long outage (about 9 hours at an average of 30 s per attempt) must not crash
        # the connection manager: the ceiling stays at the cap forever.
        backoff = Backoff(base=1.0, cap=60.0)
        rng = random.Random(0)
        for _ in range(2000):
            assert 0.0 <= backoff.next_delay(0.0, rng) <= 60.0
