"""tether, discord.py and hikari behind one small interface, for benchmarks against the emulator.

Adapted from ``tests/peers/harness.py`` (not imported from there: benchmarks do not depend on
the test tree). Each peer is used unmodified except for its base URL: hikari gets
``rest_url`` (it reads the gateway URL from ``/gateway/bot``); discord.py, which never asks
``/gateway/bot``, gets ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` pointed at the
emulator by :func:`discordpy_base_urls` (restored on exit). tether gets ``api_url``.
Everything else (IDENTIFY, heartbeats, zombie detection, zlib-stream, RESUME, backoff) is
the library's own code path with its own defaults.

Several adapters of the same library may run at once against one emulator: each one knows
its own current session id (from the library's own READY handling), which is how a
benchmark tells their sessions apart in the emulator's log.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import hikari
import yarl

import tether
from tether.emulator import Emulator

with warnings.catch_warnings():
    # discord.player imports audioop (deprecated since 3.11); nothing to do with us.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

__all__ = [
    "PEERS",
    "DiscordPyPeer",
    "HikariPeer",
    "Peer",
    "TetherPeer",
    "discordpy_base_urls",
]

#: discord.py fires on_ready this long after the last GUILD_CREATE (its default is 2 s); it
#: only shortens start-up, never a reconnect (the tests' harness uses the same value).
GUILD_READY_TIMEOUT = 0.2

_discordpy_target: str | None = None


@contextlib.contextmanager
def discordpy_base_urls(emu: Emulator) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at ``emu`` (restored on exit).

    These are class attributes, so they are set once for every discord.py client of a run.
    """
    global _discordpy_target
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = emu.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emu.gateway_url)
    _discordpy_target = emu.api_url
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
        _discordpy_target = None


class Peer(abc.ABC):
    """One library's bot, started against an emulator.

    Attributes:
        ready_count: sessions the library reported ready (a re-identify adds one).
        resumed_count: resumes the library reported.
        session_id: the library's current session id (None before its first READY).
        failure: an exception the library reported or ended with, if any.
        changed: set whenever one of the above changes (cleared by waiters).
    """

    #: Short key used in JSON output.
    key: ClassVar[str]
    #: Human name used in tables.
    label: ClassVar[str]
    #: The package whose tasks and threads must not survive a clean stop.
    package: ClassVar[str]

    def __init__(self, emu: Emulator, tag: str) -> None:
        self.emu = emu
        self.tag = tag
        self.ready_count = 0
        self.resumed_count = 0
        self.session_id: str | None = None
        self.failure: BaseException | None = None
        self.changed = asyncio.Event()
        self.started = False
        self.closed = False

    def __repr__(self) -> str:
        return f"<{self.label} {self.tag} session={self.session_id}>"

    def _note(self) -> None:
        self.changed.set()

    def failed(self) -> BaseException | None:
        """The failure recorded so far (a call, so that type checkers do not narrow it)."""
        return self.failure

    def _fail(self, exc: BaseException) -> None:
        self.failure = exc
        self._note()

    async def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds (woken by the peer's handlers); False on timeout
        or if the peer failed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for _ in range(100_000):  # bounded; each pass waits for a handler to fire
            if predicate():
                return True
            remaining = deadline - loop.time()
            if self.failure is not None or remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return predicate()

    async def wait_ready(self, timeout: float) -> bool:
        """Wait for the library's ready signal with a known session id."""
        return await self.wait(
            lambda: self.ready_count > 0 and self.session_id is not None, timeout
        )

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the bot (it connects in the background)."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Shut the library down with its own API."""

    async def close(self) -> None:
        """Shut the peer down (once; later calls do nothing)."""
        if self.started and not self.closed:
            self.closed = True
            await self._close()


class TetherPeer(Peer):
    """A ``tether.Client`` with its defaults (only ``api_url`` set)."""

    key = "tether"
    label = "tether"
    package = "tether"

    def __init__(self, emu: Emulator, tag: str) -> None:
        super().__init__(emu, tag)
        self.client = tether.Client(emu.token, api_url=emu.api_url)

        def on_ready(_event: tether.Ready) -> None:
            self.session_id = self.client.shards[0].session_id
            self.ready_count += 1
            self._note()

        def on_resumed(_event: tether.Resumed) -> None:
            self.resumed_count += 1
            self._note()

        self.client.on(tether.Ready)(on_ready)
        self.client.on(tether.Resumed)(on_resumed)
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.started = True
        await self.client.start()
        self._watch = asyncio.create_task(self._watch_fatal(), name=f"bench watch {self.tag}")

    async def _watch_fatal(self) -> None:
        try:
            await self.client.wait_stopped()
        except Exception as exc:
            self._fail(exc)
        else:
            if not self.closed:
                self._fail(RuntimeError("tether stopped on its own"))

    async def _close(self) -> None:
        await self.client.stop()
        if self._watch is not None:
            await self._watch


class DiscordPyPeer(Peer):
    """A plain ``discord.Client`` (no ext.commands), as in the tests' harness.

    Needs :func:`discordpy_base_urls` to be active for this emulator.
    """

    key = "discordpy"
    label = "discord.py"
    package = "discord"

    def __init__(self, emu: Emulator, tag: str) -> None:
        super().__init__(emu, tag)
        self._task: asyncio.Task[None] | None = None
        intents = discord.Intents.default()
        intents.message_content = True
        client = discord.Client(intents=intents, guild_ready_timeout=GUILD_READY_TIMEOUT)
        self.client = client

        async def on_ready() -> None:
            self.session_id = getattr(client.ws, "session_id", None)
            self.ready_count += 1
            self._note()

        async def on_resumed() -> None:
            self.resumed_count += 1
            self._note()

        async def on_error(event: str, *args: Any, **kwargs: Any) -> None:
            self._fail(sys.exc_info()[1] or RuntimeError(event))

        for handler in (on_ready, on_resumed, on_error):
            client.event(handler)

    async def start(self) -> None:
        if _discordpy_target != self.emu.api_url:
            raise RuntimeError("discord.py needs discordpy_base_urls(emu) around its use")
        self.started = True
        self._task = asyncio.create_task(
            self.client.start(self.emu.token), name=f"discord.py client {self.tag}"
        )
        self._task.add_done_callback(self._client_ended)

    def _client_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._fail(task.exception())  # type: ignore[arg-type]
        elif not self.closed:
            self._fail(RuntimeError("discord.py client stopped on its own"))

    async def _close(self) -> None:
        await self.client.close()
        if self._task is not None:
            await self._task


class HikariPeer(Peer):
    """A ``hikari.GatewayBot`` with unprivileged intents plus message content."""

    key = "hikari"
    label = "hikari"
    package = "hikari"

    def __init__(self, emu: Emulator, tag: str) -> None:
        super().__init__(emu, tag)
        bot = hikari.GatewayBot(
            emu.token,
            rest_url=emu.api_url,
            intents=hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT,
            banner=None,
            logs=None,
            suppress_optimization_warning=True,
        )
        self.bot = bot

        async def on_shard_ready(event: hikari.ShardReadyEvent) -> None:
            self.session_id = event.session_id
            self.ready_count += 1
            self._note()

        async def on_resumed(_event: hikari.ShardResumedEvent) -> None:
            self.resumed_count += 1
            self._note()

        async def on_exception(event: hikari.ExceptionEvent[Any]) -> None:
            self._fail(event.exception)

        bot.subscribe(hikari.ShardReadyEvent, on_shard_ready)
        bot.subscribe(hikari.ShardResumedEvent, on_resumed)
        bot.subscribe(hikari.ExceptionEvent, on_exception)

    async def start(self) -> None:
        self.started = True
        await self.bot.start(check_for_updates=False)

    async def _close(self) -> None:
        await self.bot.close()


#: Every benchmarked client, in table order.
PEERS: tuple[type[Peer], ...] = (TetherPeer, DiscordPyPeer, HikariPeer)
