"""discord.py and hikari behind one small interface, run unmodified against the emulator.

Each adapter changes only what the issue allows, the REST base URL (and, for discord.py,
which never asks ``/gateway/bot``, the gateway URL it would otherwise hard-code). Everything
else (IDENTIFY, heartbeats, zlib-stream, RESUME, parsing) is the library's own code path.

Handlers record what the peer saw and wake :meth:`PeerBot.wait`; tests never sleep to
synchronise. :meth:`PeerBot.stop_cleanly` shuts the peer down and checks that nothing of it
is left behind: no task from its package, no thread, no open aiohttp session or socket, no
loop error and no unexpected warning from its logger.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import gc
import importlib
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import aiohttp
import hikari
import yarl

with warnings.catch_warnings():
    # discord.player imports audioop (deprecated since 3.11); nothing to do with us.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

from tether.emulator import Emulator, LogRecord

__all__ = ["PEERS", "DiscordPyBot", "HikariBot", "Hygiene", "PeerBot", "Seen"]

#: Seconds any single wait may take (ready, a message, a close record).
STEP = 5.0
#: hikari backs off 1-2 s before reconnecting when its last start was under 30 s ago.
RESUME_TIMEOUT = 8.0
#: discord.py fires on_ready this long after the last GUILD_CREATE (its default is 2 s).
GUILD_READY_TIMEOUT = 0.2
#: How long a peer's leftover tasks and threads may take to finish after close().
LEFTOVER_GRACE = 2.0

#: Warnings the peers log for reasons that have nothing to do with the emulator.
_BENIGN = (
    ("discord.client", "PyNaCl is not installed"),
    ("discord.client", "davey is not installed"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class Seen:
    """A message as a peer's handler (or REST call) handed it over."""

    id: int
    channel_id: int
    author_id: int
    content: str
    guild_id: int | None = None

    @classmethod
    def from_emulator(cls, message: dict[str, Any]) -> Seen:
        """What a peer should see for a message the emulator created."""
        guild_id = message.get("guild_id")
        return cls(
            id=int(message["id"]),
            channel_id=int(message["channel_id"]),
            author_id=int(message["author"]["id"]),
            content=message["content"],
            guild_id=None if guild_id is None else int(guild_id),
        )

    def without_guild(self) -> Seen:
        """The same message with ``guild_id`` dropped (REST answers do not carry it)."""
        return dataclasses.replace(self, guild_id=None)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Hygiene:
    """Watches one test for signs of an unclean peer: loop errors and peer warnings.

    Created by the ``hygiene`` fixture, which installs it and restores the loop and the
    loggers afterwards.

    Attributes:
        loop_errors: contexts passed to the loop's exception handler (unclosed sessions,
            exceptions nobody retrieved, ...).
    """

    LOGGERS = ("discord", "hikari")

    def __init__(self) -> None:
        self.loop_errors: list[dict[str, Any]] = []
        self._collector = _Collector()
        self._allowed: list[tuple[str, str]] = list(_BENIGN)
        self._saved: list[tuple[logging.Logger, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._old_handler: Any = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Record loop errors and the peers' warnings; keep their INFO for failure reports."""
        self._loop = loop
        self._old_handler = loop.get_exception_handler()
        loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.level))
            logger.setLevel(logging.INFO)
            logger.addHandler(self._collector)

    def uninstall(self) -> None:
        """Undo :meth:`install`."""
        if self._loop is not None:
            self._loop.set_exception_handler(self._old_handler)
        for logger, level in self._saved:
            logger.setLevel(level)
            logger.removeHandler(self._collector)
        self._saved.clear()

    def allow(self, logger: str, text: str) -> None:
        """Accept warnings from ``logger`` (or its children) that contain ``text``."""
        self._allowed.append((logger, text))

    def unexpected(self) -> list[str]:
        """WARNING-or-worse peer log lines not allowed by :meth:`allow`."""
        lines = []
        for record in self._collector.records:
            message = record.getMessage()
            if any(
                (record.name == name or record.name.startswith(name + ".")) and text in message
                for name, text in self._allowed
            ):
                continue
            lines.append(f"{record.name} {record.levelname}: {message}")
        return lines

    def check(self) -> None:
        """Fail on loop errors or unexpected peer warnings seen so far."""
        gc.collect()  # unclosed aiohttp sessions report themselves when collected
        assert not self.loop_errors, f"loop errors: {self.loop_errors}"
        assert not self.unexpected(), f"peer warnings: {self.unexpected()}"


def _package_dir(package: str) -> str:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    return os.path.dirname(module.__file__) + os.sep


def _task_origin(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    return "" if code is None else code.co_filename


class PeerBot(abc.ABC):
    """One peer library's bot, started against an emulator.

    Attributes:
        messages: every guild message the peer's message handler received, in order.
        replies: messages the peer's own REST call returned after a ``!ping``.
        ready_count: how many times the peer signalled ready.
        resumed_count: how many times the peer signalled a resume.
        reply_to_ping: answer ``!ping`` with ``pong`` through the peer's REST client.
    """

    #: The distribution's import name, shown in test ids.
    name: ClassVar[str]
    #: The package whose tasks and threads must not survive :meth:`close`.
    package: ClassVar[str]
    #: The close code the peer sends when it shuts down for good.
    shutdown_code: ClassVar[int]
    #: Whether the peer sends its JSON in binary WebSocket frames.
    sends_binary: ClassVar[bool]

    def __init__(self, emu: Emulator, hygiene: Hygiene) -> None:
        self.emu = emu
        self.hygiene = hygiene
        self.messages: list[Seen] = []
        self.replies: list[Seen] = []
        self.ready_count = 0
        self.resumed_count = 0
        self.reply_to_ping = False
        self.started = False
        self.closed = False
        self._changed = asyncio.Event()
        self._failure: BaseException | None = None

    def _note(self) -> None:
        self._changed.set()

    def _fail(self, exc: BaseException) -> None:
        self._failure = exc
        self._note()

    async def wait(self, predicate: Callable[[], bool], what: str, timeout: float = STEP) -> None:
        """Wait until ``predicate()`` holds, re-checking whenever a handler records something.

        Raises:
            AssertionError: the peer failed, or ``timeout`` passed first.
        """
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    if self._failure is not None:
                        raise AssertionError(f"{self.name} failed: {self._failure!r}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{self.name}: no {what} within {timeout} s") from None

    async def wait_for_content(self, content: str, timeout: float = STEP) -> Seen:
        """The first received message with this content (waiting for it if needed)."""
        await self.wait(
            lambda: any(m.content == content for m in self.messages), repr(content), timeout
        )
        return next(m for m in self.messages if m.content == content)

    def contents(self) -> list[str]:
        """The contents of the received messages, in order."""
        return [m.content for m in self.messages]

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the bot (it connects in the background)."""

    @abc.abstractmethod
    async def wait_ready(self) -> dict[int, str]:
        """Wait for the peer's ready signal and its guild stream.

        Returns:
            The guilds in the peer's own cache: id -> name.
        """

    @abc.abstractmethod
    async def fetch_application(self) -> tuple[int, str]:
        """GET the bot's application with the peer's REST client: (id, name)."""

    @abc.abstractmethod
    async def fetch_user(self, user_id: int) -> tuple[int, str]:
        """GET a user with the peer's REST client: (id, username)."""

    @abc.abstractmethod
    async def history(self, channel_id: int, limit: int) -> list[int]:
        """A channel's newest ``limit`` message ids, newest first, with the peer's paging."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Shut the peer down with its own API."""

    async def close(self) -> None:
        """Shut the peer down (once; later calls do nothing)."""
        if self.started and not self.closed:
            self.closed = True
            await self._close()

    async def stop_cleanly(self) -> None:
        """Close the peer and check it left the emulator and the process clean.

        The emulator must see the peer's own close code on the socket it still had, and
        settle the session by spec 14 G43: a client close with 1000/1001 ends it, any other
        code leaves it resumable until it expires.
        """
        live = [
            (conn.id, conn.session.id if conn.session else None) for conn in self.emu.connections
        ]
        assert len(live) == 1, f"{self.name} should hold one socket, has {live}"
        mark = self.emu.log.mark()
        await self.close()
        for conn_id, session_id in live:
            record = await self.emu.wait_for(
                "close_received", conn_id=conn_id, since=mark, timeout=STEP
            )
            assert record.get("code") == self.shutdown_code, record
            if session_id is not None:
                effect = (
                    "session_invalidated"
                    if self.shutdown_code in (1000, 1001)
                    else "session_detached"
                )
                await self.emu.wait_for(effect, session_id=session_id, since=mark, timeout=STEP)
        await self.assert_no_leftovers()
        self.hygiene.check()

    async def assert_no_leftovers(self) -> None:
        """No task or thread of the peer's package, and no open aiohttp client object."""
        home = _package_dir(self.package)
        tasks = [
            t for t in asyncio.all_tasks() if not t.done() and _task_origin(t).startswith(home)
        ]
        if tasks:
            await asyncio.wait(tasks, timeout=LEFTOVER_GRACE)
        assert not [t for t in tasks if not t.done()], f"{self.name} left tasks running: {tasks}"
        threads = [
            t for t in threading.enumerate() if type(t).__module__.partition(".")[0] == self.package
        ]
        for thread in threads:
            thread.join(LEFTOVER_GRACE)
        assert not [t for t in threads if t.is_alive()], f"{self.name} left threads: {threads}"
        gc.collect()
        open_objects = [
            o
            for o in gc.get_objects()
            if isinstance(
                o, (aiohttp.ClientSession, aiohttp.ClientWebSocketResponse, aiohttp.BaseConnector)
            )
            and not o.closed
        ]
        assert not open_objects, f"{self.name} left aiohttp objects open: {open_objects}"

    def ready_session(self) -> LogRecord:
        """The emulator's ``ready`` record for the peer's one session."""
        records = self.emu.log.find("ready")
        assert len(records) == 1, records
        return records[0]


class DiscordPyBot(PeerBot):
    """A plain ``discord.Client`` (no ext.commands), with message content and no members.

    discord.py connects straight to ``DiscordWebSocket.DEFAULT_GATEWAY`` without asking
    ``/gateway/bot``, so that class attribute is pointed at the emulator as well as
    ``Route.BASE``. Both are restored by :meth:`close`.
    """

    name = "discord.py"
    package = "discord"
    #: ``Client.close()`` asks for 1000, but the wire carries 4000: aiohttp's ``close()``
    #: first wakes the pending ``receive()`` in ``poll_event``, whose handler closes with
    #: 4000 before the 1000 close runs (then a no-op). Real Discord keeps the session.
    shutdown_code = 4000
    sends_binary = False

    def __init__(self, emu: Emulator, hygiene: Hygiene) -> None:
        super().__init__(emu, hygiene)
        self._task: asyncio.Task[None] | None = None
        self._patched: list[tuple[Any, str, Any]] = []
        self.client: Any = None

    def _patch(self, owner: Any, attribute: str, value: Any) -> None:
        self._patched.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, value)

    async def start(self) -> None:
        self._patch(discord.http.Route, "BASE", self.emu.api_url)
        self._patch(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.emu.gateway_url)
        )
        intents = discord.Intents.default()
        intents.message_content = True
        client = discord.Client(intents=intents, guild_ready_timeout=GUILD_READY_TIMEOUT)
        self.client = client

        async def on_ready() -> None:
            self.ready_count += 1
            self._note()

        async def on_resumed() -> None:
            self.resumed_count += 1
            self._note()

        async def on_message(message: discord.Message) -> None:
            self.messages.append(
                Seen(
                    id=message.id,
                    channel_id=message.channel.id,
                    author_id=message.author.id,
                    content=message.content,
                    guild_id=message.guild.id if message.guild else None,
                )
            )
            self._note()
            if self.reply_to_ping and message.content == "!ping" and message.author != client.user:
                sent = await message.channel.send("pong")
                self.replies.append(
                    Seen(id=sent.id, channel_id=sent.channel.id, author_id=sent.author.id,
                         content=sent.content)
                )  # fmt: skip
                self._note()

        async def on_error(event: str, *args: Any, **kwargs: Any) -> None:
            self._fail(sys.exc_info()[1] or RuntimeError(event))

        for handler in (on_ready, on_resumed, on_message, on_error):
            client.event(handler)
        self.started = True
        self._task = asyncio.create_task(client.start(self.emu.token), name="discord.py client")
        self._task.add_done_callback(self._client_ended)

    def _client_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._fail(task.exception())  # type: ignore[arg-type]
        elif not self.closed:
            self._fail(RuntimeError("discord.py client stopped on its own"))

    async def wait_ready(self) -> dict[int, str]:
        await self.wait(lambda: self.ready_count > 0, "on_ready")
        return {guild.id: guild.name for guild in self.client.guilds}

    async def fetch_application(self) -> tuple[int, str]:
        app = await self.client.application_info()
        return app.id, app.name

    async def fetch_user(self, user_id: int) -> tuple[int, str]:
        user = await self.client.fetch_user(user_id)
        return user.id, user.name

    async def history(self, channel_id: int, limit: int) -> list[int]:
        channel = await self.client.fetch_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        return [m.id async for m in channel.history(limit=limit)]

    async def _close(self) -> None:
        try:
            await self.client.close()
            if self._task is not None:
                await self._task
        finally:
            for owner, attribute, value in reversed(self._patched):
                setattr(owner, attribute, value)
            self._patched.clear()


class HikariBot(PeerBot):
    """A ``hikari.GatewayBot`` with unprivileged intents plus message content.

    hikari reads the gateway URL from ``/gateway/bot``; only ``rest_url`` is changed.
    Its ready signal is ``StartedEvent`` (every shard got READY); the guilds it lists in
    ``ShardReadyEvent.unavailable_guilds`` then arrive as ``GuildAvailableEvent``.
    """

    name = "hikari"
    package = "hikari"
    shutdown_code = 1001
    sends_binary = True

    def __init__(self, emu: Emulator, hygiene: Hygiene) -> None:
        super().__init__(emu, hygiene)
        self.bot: Any = None
        self.listed_guilds: set[int] | None = None
        self.available_guilds: set[int] = set()
        self.ready_events: list[Any] = []

    async def start(self) -> None:
        bot = hikari.GatewayBot(
            self.emu.token,
            rest_url=self.emu.api_url,
            intents=hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT,
            banner=None,
            logs=None,
            suppress_optimization_warning=True,
        )
        self.bot = bot

        async def on_started(_event: hikari.StartedEvent) -> None:
            self.ready_count += 1
            self._note()

        async def on_shard_ready(event: hikari.ShardReadyEvent) -> None:
            self.ready_events.append(event)
            self.listed_guilds = {int(g) for g in event.unavailable_guilds}
            self._note()

        async def on_guild_available(event: hikari.GuildAvailableEvent) -> None:
            self.available_guilds.add(int(event.guild_id))
            self._note()

        async def on_resumed(_event: hikari.ShardResumedEvent) -> None:
            self.resumed_count += 1
            self._note()

        async def on_message(event: hikari.GuildMessageCreateEvent) -> None:
            self.messages.append(
                Seen(
                    id=int(event.message_id),
                    channel_id=int(event.channel_id),
                    author_id=int(event.author_id),
                    content=event.content or "",
                    guild_id=int(event.guild_id),
                )
            )
            self._note()
            if self.reply_to_ping and event.content == "!ping" and not event.is_bot:
                sent = await event.message.respond("pong")
                self.replies.append(
                    Seen(id=int(sent.id), channel_id=int(sent.channel_id),
                         author_id=int(sent.author.id), content=sent.content or "")
                )  # fmt: skip
                self._note()

        async def on_exception(event: hikari.ExceptionEvent[Any]) -> None:
            self._fail(event.exception)

        bot.subscribe(hikari.StartedEvent, on_started)
        bot.subscribe(hikari.ShardReadyEvent, on_shard_ready)
        bot.subscribe(hikari.GuildAvailableEvent, on_guild_available)
        bot.subscribe(hikari.ShardResumedEvent, on_resumed)
        bot.subscribe(hikari.GuildMessageCreateEvent, on_message)
        bot.subscribe(hikari.ExceptionEvent, on_exception)
        self.started = True
        await bot.start(check_for_updates=False)

    async def wait_ready(self) -> dict[int, str]:
        await self.wait(lambda: self.ready_count > 0, "StartedEvent")
        await self.wait(
            lambda: self.listed_guilds is not None and self.listed_guilds <= self.available_guilds,
            "GuildAvailableEvent for every guild in READY",
        )
        return {int(gid): guild.name for gid, guild in self.bot.cache.get_guilds_view().items()}

    async def fetch_application(self) -> tuple[int, str]:
        app = await self.bot.rest.fetch_application()
        return int(app.id), app.name

    async def fetch_user(self, user_id: int) -> tuple[int, str]:
        user = await self.bot.rest.fetch_user(user_id)
        return int(user.id), user.username

    async def history(self, channel_id: int, limit: int) -> list[int]:
        messages = self.bot.rest.fetch_messages(channel_id).limit(limit)
        return [int(m.id) async for m in messages]

    async def _close(self) -> None:
        await self.bot.close()


#: Every peer, in the order tests are parametrized.
PEERS: tuple[type[PeerBot], ...] = (DiscordPyBot, HikariBot)
