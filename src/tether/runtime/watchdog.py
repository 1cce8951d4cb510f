"""The blocked-loop watchdog: names the handler that stalls the user's event loop.

A plain thread pings the loop (``call_soon_threadsafe``) every ``threshold / 4`` seconds.
When a ping stays unanswered for ``threshold`` seconds, the loop is blocked: the watchdog
reads the loop thread's current stack, finds the handler call on it, logs a warning at once
(while the loop is still blocked) and queues a ``HandlerBlocked`` event, delivered when the
loop is free. Further reports for the same block come at 2x, 4x, ... the threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType

from tether.gateway.events import HandlerBlocked

__all__ = ["Watchdog", "find_handler"]

log = logging.getLogger("tether.handlers")

_STACK_LIMIT = 12


def find_handler(frame: FrameType | None, invoke_code: object) -> tuple[str | None, str | None]:
    """The (handler name, event name) of the dispatcher call found on ``frame``'s stack."""
    while frame is not None:
        if frame.f_code is invoke_code:
            local = frame.f_locals
            name = local.get("name")
            event = local.get("event")
            event_name = getattr(event, "name", None) or type(event).__name__
            return (str(name) if name is not None else None), event_name
        frame = frame.f_back
    return None, None


class Watchdog:
    """Watches one event loop from another thread.

    Args:
        loop: the loop to watch (the user's).
        threshold: seconds of blockage before the first report.
        report: called (from the watchdog thread) with each HandlerBlocked.
        invoke_code: the code object of the dispatcher's handler wrapper, to find the handler.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        threshold: float,
        report: Callable[[HandlerBlocked], None],
        invoke_code: object,
    ) -> None:
        self._loop = loop
        self.threshold = threshold
        self._report = report
        self._invoke_code = invoke_code
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread = threading.get_ident()
        self._lock = threading.Lock()
        self._ping_sent: float | None = None
        self.reports = 0

    def start(self) -> None:
        """Start watching (call from the watched loop's thread)."""
        self._loop_thread = threading.get_ident()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tether watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it (quick: it wakes at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _pong(self) -> None:
        with self._lock:
            self._ping_sent = None

    def _run(self) -> None:
        tick = max(0.02, self.threshold / 4)
        next_report = self.threshold
        reported_for: float | None = None
        while not self._stop.wait(tick):
            now = time.monotonic()
            with self._lock:
                sent = self._ping_sent
                if sent is None:
                    self._ping_sent = now
            if sent is None:
                next_report, reported_for = self.threshold, None
                with contextlib.suppress(RuntimeError):  # loop closed: we are stopping
                    self._loop.call_soon_threadsafe(self._pong)
                continue
            blocked = now - sent
            if reported_for != sent:
                next_report, reported_for = self.threshold, sent
            if blocked >= next_report:
                self._blocked(blocked)
                next_report *= 2

    def _blocked(self, seconds: float) -> None:
        frame = sys._current_frames().get(self._loop_thread)
        handler, event = find_handler(frame, self._invoke_code)
        stack = "".join(traceback.format_stack(frame, limit=_STACK_LIMIT)) if frame else ""
        del frame
        self.reports += 1
        log.warning(
            "event loop blocked for %.1f s by handler %s (handling %s); it is stuck at:\n%s",
            seconds,
            handler or "<unknown>",
            event or "<unknown>",
            stack,
        )
        self._report(HandlerBlocked(handler=handler, event=event, seconds=seconds, stack=stack))
