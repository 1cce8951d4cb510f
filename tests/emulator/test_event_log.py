"""The emulator's event log (spec 14 K64): absolute indices, and a limit that drops the
oldest records without renumbering the rest or losing a waiter."""

from __future__ import annotations

import asyncio

import pytest

from tether.emulator import EmulatorConfig
from tether.emulator.log import EventLog


def _filled(count: int, limit: int | None) -> EventLog:
    log = EventLog(lambda: 0.0, lambda: limit)
    for n in range(count):
        log.add("frame_out" if n % 2 else "dispatch", n=n)
    return log


def test_unbounded_keeps_everything() -> None:
    log = _filled(500, None)
    assert len(log) == 500 == log.mark()
    assert log.first_index == 0
    assert [r.index for r in log] == list(range(500))
    assert log[0].get("n") == 0


def test_limit_drops_the_oldest_and_keeps_indices() -> None:
    log = _filled(1000, 100)
    kept = log.records
    assert 100 <= len(kept) <= 110  # a tenth of slack: trimming is amortised
    assert len(log) == 1000 == log.mark()  # the next index, not the number kept
    assert [r.index for r in kept] == list(range(log.first_index, 1000))
    assert all(r.get("n") == r.index for r in kept)
    assert log[999].get("n") == 999 and log[-1].index == 999
    with pytest.raises(IndexError, match="dropped"):
        log[0]
    # since older than the first kept record starts at it; newer ones slice as before
    assert [r.index for r in log.find("dispatch", since=0)] == [
        i for i in range(log.first_index, 1000) if i % 2 == 0
    ]
    assert [r.index for r in log.find("frame_out", since=995)] == [995, 997, 999]
    assert log.count("dispatch", since=990) == 5


def test_limit_read_at_each_append() -> None:
    config = EmulatorConfig(log_limit=None)
    log = EventLog(lambda: 0.0, lambda: config.log_limit)
    for _ in range(300):
        log.add("x")
    assert log.first_index == 0
    config.log_limit = 50
    log.add("x")
    assert log.first_index > 0 and len(log.records) == 50 and len(log) == 301


async def test_waiters_see_records_past_the_limit() -> None:
    log = _filled(200, 10)
    mark = log.mark()
    waiter = asyncio.ensure_future(log.wait_for("late", since=mark, timeout=5))
    await asyncio.sleep(0)  # one loop turn: the task runs up to its wait (no timing involved)
    for _ in range(50):
        log.add("filler")
    log.add("late", ok=True)
    record = await waiter
    assert record.index == mark + 50 and record.get("ok") is True


def test_default_limit_is_bounded() -> None:
    assert EmulatorConfig().log_limit is not None
