"""Signs of an unclean client, collected during a benchmark (adapted from the tests' harness).

:class:`Hygiene` records loop errors (unclosed sessions, exceptions nobody retrieved) and the
libraries' WARNING-or-worse log lines, so they are counted in the report instead of printed
in the middle of it. :func:`leftovers` lists what a stopped library left behind: tasks and
threads from its package, and open aiohttp client objects.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import importlib
import ipaddress
import logging
import os
import sys
import threading
from typing import Any

import aiohttp

__all__ = ["Hygiene", "guard_loopback", "leftovers", "non_loopback_attempts"]

#: Libraries whose loggers are captured.
LOGGERS = ("tether", "discord", "hikari")
#: How long a library's leftover tasks and threads may take to finish after it closed.
LEFTOVER_GRACE = 2.0


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Hygiene:
    """Captures loop errors and the libraries' warnings while installed.

    Attributes:
        loop_errors: contexts passed to the loop's exception handler.
    """

    def __init__(self) -> None:
        self.loop_errors: list[dict[str, Any]] = []
        self._collector = _Collector()
        self._saved: list[tuple[logging.Logger, int, bool]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._old_handler: Any = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Record loop errors and WARNING+ lines of the libraries (not propagated to stderr)."""
        self._loop = loop
        self._old_handler = loop.get_exception_handler()
        loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        for name in LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.level, logger.propagate))
            logger.setLevel(logging.WARNING)
            logger.propagate = False
            logger.addHandler(self._collector)

    def uninstall(self) -> None:
        """Undo :meth:`install`."""
        if self._loop is not None:
            self._loop.set_exception_handler(self._old_handler)
        for logger, level, propagate in self._saved:
            logger.setLevel(level)
            logger.propagate = propagate
            logger.removeHandler(self._collector)
        self._saved.clear()

    def warnings_by_library(self) -> dict[str, dict[str, int]]:
        """WARNING+ log lines per library, grouped by their first 90 characters."""
        out: dict[str, collections.Counter[str]] = {}
        for record in self._collector.records:
            library = record.name.partition(".")[0]
            text = f"{record.levelname} {record.name}: {record.getMessage()}"
            out.setdefault(library, collections.Counter())[text[:90]] += 1
        return {lib: dict(counter.most_common()) for lib, counter in sorted(out.items())}

    def loop_error_summaries(self) -> list[str]:
        """One line per loop error."""
        gc.collect()  # unclosed aiohttp sessions report themselves when collected
        return [str(c.get("message") or c.get("exception"))[:200] for c in self.loop_errors]


_blocked: list[str] = []
_guarding = False


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address and not _is_loopback(address[0]):
            _blocked.append(f"connect {address!r}")
            raise PermissionError(f"benchmark traffic is loopback-only: connect {address!r}")
    elif event == "socket.getaddrinfo" and not _is_loopback(args[0]):
        _blocked.append(f"getaddrinfo {args[0]!r}")
        raise PermissionError(f"benchmark traffic is loopback-only: resolve {args[0]!r}")


def guard_loopback() -> None:
    """Refuse (and record) any socket connect or name lookup that is not loopback.

    An audit hook (it stays for the life of the process): a library that tried to reach
    anything but 127.0.0.1/::1/localhost gets PermissionError, and the attempt is listed by
    :func:`non_loopback_attempts`.
    """
    global _guarding
    if not _guarding:
        sys.addaudithook(_audit)
        _guarding = True


def non_loopback_attempts() -> list[str]:
    """Connects and lookups refused by :func:`guard_loopback`."""
    return list(_blocked)


def _package_dir(package: str) -> str:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    return os.path.dirname(module.__file__) + os.sep


def _task_origin(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    return "" if code is None else code.co_filename


async def leftovers(packages: tuple[str, ...]) -> list[str]:
    """What the stopped libraries left behind: their tasks and threads, open aiohttp clients.

    Waits up to :data:`LEFTOVER_GRACE` for tasks and threads that are finishing.
    """
    problems: list[str] = []
    homes = tuple(_package_dir(p) for p in packages)
    tasks = [t for t in asyncio.all_tasks() if not t.done() and _task_origin(t).startswith(homes)]
    if tasks:
        await asyncio.wait(tasks, timeout=LEFTOVER_GRACE)
    problems += [f"task left running: {t.get_name()}" for t in tasks if not t.done()]
    threads = [t for t in threading.enumerate() if type(t).__module__.partition(".")[0] in packages]
    for thread in threads:
        thread.join(LEFTOVER_GRACE)
    problems += [f"thread left running: {t.name}" for t in threads if t.is_alive()]
    gc.collect()
    problems += [
        f"aiohttp object left open: {type(o).__name__}"
        for o in gc.get_objects()
        if isinstance(
            o, (aiohttp.ClientSession, aiohttp.ClientWebSocketResponse, aiohttp.BaseConnector)
        )
        and not o.closed
    ]
    return problems
