"""The :class:`Emulator`: REST, gateway and control API on one loopback port.

::

    async with Emulator(guilds=3, config=EmulatorConfig(heartbeat_interval_ms=200)) as emu:
        emu.api_url             # http://127.0.0.1:PORT/api/v10
        emu.gateway_url         # ws://127.0.0.1:PORT/          (GET /gateway answers this)
        emu.resume_gateway_url  # ws://127.0.0.1:PORT/resume    (READY's resume_gateway_url)
        await emu.send_message(emu.world.text_channel_ids()[0], "hi")
        emu.faults.close(4000)
        await emu.wait_for("resume", timeout=5)

Both gateway paths accept IDENTIFY and RESUME; the log records which one was used.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import types
from typing import Any

from aiohttp import web

from tether.emulator.changes import WorldChanges
from tether.emulator.config import DEFAULT_TOKEN, EmulatorConfig, bot_id_from_token
from tether.emulator.connection import Connection
from tether.emulator.control import add_control_routes
from tether.emulator.faults import Faults
from tether.emulator.gateway import handle_gateway
from tether.emulator.hub import Hub
from tether.emulator.log import EventLog, LogRecord, RecordMatch
from tether.emulator.payloads import unavailable_guild
from tether.emulator.ratelimit import RestLimits
from tether.emulator.rest import API_PREFIX, RestSide, add_rest_routes
from tether.emulator.restcontrol import add_rest_control_routes
from tether.emulator.sessions import Session
from tether.emulator.world import Guild, User, World

__all__ = ["Emulator"]

_STOP_CLOSE_WAIT_S = 1.0


class Emulator:
    """A fake Discord on loopback: REST + gateway over real WebSockets, with faults.

    Args:
        token: the only bot token accepted (REST ``Bot`` auth and IDENTIFY/RESUME).
        guilds: how many guilds the seeded world has.
        seed: seeds the world (same seed, same ids and names) and fault randomness.
        config: behaviour knobs (a fresh :class:`EmulatorConfig` by default); mutable
            while running.
        host: the address to bind (keep it loopback).
        port: the port (0: any free port; read it back from the URLs).
        members_per_guild: users per guild besides the bot.
        channels_per_guild, roles_per_guild, shared_users: the world's shape (see
            :class:`~tether.emulator.world.World`).
        rest_limits: REST rate limits (Discord-like defaults; small buckets make tests fast).

    Attributes:
        token: the accepted token.
        config: the live config.
        world: the seeded world (guilds, channels, roles, members, bot user, app id).
        faults: the fault injection API (:class:`~tether.emulator.faults.Faults`).
        changes: world changes that dispatch their events
            (:class:`~tether.emulator.changes.WorldChanges`).
        hub: the shared state (sessions, connections, log) for advanced inspection.
        rest: the REST side (:class:`~tether.emulator.rest.RestSide`): rate limits, REST
            faults, recorded calls, messages and interactions.
    """

    def __init__(  # noqa: PLR0917 - the documented contract allows positional use
        self,
        token: str = DEFAULT_TOKEN,
        guilds: int = 3,
        seed: int = 0,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        members_per_guild: int = 8,
        channels_per_guild: int = 5,
        roles_per_guild: int = 3,
        shared_users: bool = True,
        rest_limits: RestLimits | None = None,
    ) -> None:
        self.token = token
        self._config = config if config is not None else EmulatorConfig()
        self.world = World(
            bot_id=bot_id_from_token(token),
            guilds=guilds,
            seed=seed,
            members_per_guild=members_per_guild,
            channels_per_guild=channels_per_guild,
            roles_per_guild=roles_per_guild,
            shared_users=shared_users,
        )
        self.hub = Hub(
            token=token,
            config=self._config,
            world=self.world,
            seed=seed,
            zstd_available=importlib.util.find_spec("zstandard") is not None,
        )
        self.faults = Faults(self.hub)
        self.changes = WorldChanges(self.hub)
        self.rest = RestSide(self.hub, rest_limits)
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        state = "running" if self._runner else "stopped"
        return f"Emulator({self.host}:{self._port}, {state}, token=<redacted>)"

    # lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the port and serve. Returns once the URLs are valid.

        Raises:
            RuntimeError: already started.
            OSError: the port could not be bound.
        """
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        app = web.Application()
        add_control_routes(app, self)
        add_rest_routes(app, self.hub, self.rest)
        add_rest_control_routes(app, self.rest)

        async def gateway(request: web.Request) -> web.StreamResponse:
            return await handle_gateway(self.hub, request)

        for path in ("/", "/resume", "/resume/"):
            app.router.add_get(path, gateway)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        await site.start()
        self._runner = runner
        for server in runner.sites:
            sockets = getattr(getattr(server, "_server", None), "sockets", None) or []
            for sock in sockets:
                self._port = sock.getsockname()[1]
        self.hub.gateway_url = f"ws://{self.host}:{self._port}/"
        self.hub.resume_gateway_url = f"ws://{self.host}:{self._port}/resume"
        self.hub.log.add("started", port=self._port)

    async def stop(self) -> None:
        """Close every socket (1001 going away, then abort stragglers) and free the port."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for task in list(self.hub.tasks):
            task.cancel()
        closing = [
            self.hub.server_close(conn, 1001, "emulator stopping", keep_session=True)
            for conn in self.hub.targets()
        ]
        if closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*closing), _STOP_CLOSE_WAIT_S)
        for conn in list(self.hub.connections.values()):
            conn.abort()
        await runner.cleanup()
        self.hub.log.add("stopped")

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def config(self) -> EmulatorConfig:
        """The live config; change fields (or assign a new config) at any time."""
        return self._config

    @config.setter
    def config(self, value: EmulatorConfig) -> None:
        self._config = value
        self.hub.config = value

    # URLs --------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (0 before start when port=0 was asked)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self._port}"

    @property
    def api_url(self) -> str:
        """``http://HOST:PORT/api/v10``."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def control_url(self) -> str:
        """``http://HOST:PORT/_emulator``."""
        return f"{self.base_url}/_emulator"

    @property
    def gateway_url(self) -> str:
        """``ws://HOST:PORT/``: what GET /gateway and /gateway/bot return."""
        return f"ws://{self.host}:{self._port}/"

    @property
    def resume_gateway_url(self) -> str:
        """``ws://HOST:PORT/resume``: READY's resume_gateway_url (a different path)."""
        return f"ws://{self.host}:{self._port}/resume"

    # inspection --------------------------------------------------------------------------

    @property
    def log(self) -> EventLog:
        """Every logged happening (see :mod:`tether.emulator.log` for record kinds)."""
        return self.hub.log

    @property
    def sessions(self) -> dict[str, Session]:
        """Every session ever created, by session id (check ``.state``/``.resumable``)."""
        self.hub.expire_sessions()
        return self.hub.sessions

    @property
    def connections(self) -> list[Connection]:
        """The live (open, not closing) gateway connections."""
        return self.hub.targets()

    @property
    def identify_count(self) -> int:
        """Accepted IDENTIFYs so far."""
        return self.hub.identify_count

    @property
    def resume_count(self) -> int:
        """Successful RESUMEs so far."""
        return self.hub.resume_count

    async def wait_for(
        self,
        match: RecordMatch,
        *,
        timeout: float | None = 5.0,
        since: int = 0,
        **fields: Any,
    ) -> LogRecord:
        """Wait for a log record (see :meth:`EventLog.wait_for`).

        Example: ``await emu.wait_for("close_sent", code=4009, since=mark)``.

        Raises:
            TimeoutError: nothing matched within ``timeout``.
        """
        return await self.hub.log.wait_for(match, timeout=timeout, since=since, **fields)

    # traffic -----------------------------------------------------------------------------

    async def dispatch(
        self,
        event_name: str,
        data: Any,
        *,
        guild_id: int | str | None = None,
        copies: int = 1,
        raw: bool = False,
    ) -> int:
        """Queue a dispatch for every live or resumable session that should see it.

        Intents (spec 8) and shard routing (spec 9) decide which sessions; events without
        a guild go to shard 0 and unsharded sessions. Each session gives it its next seq
        and buffers it even when its socket is gone, so a RESUME replays it.

        Args:
            event_name: the ``t`` (unknown names are delivered to everyone).
            data: the ``d``, sent as is (apart from MESSAGE_CONTENT blanking).
            guild_id: the guild to route on (default: ``d.guild_id``, or ``d.id`` for
                GUILD_CREATE/UPDATE/DELETE).
            copies: deliver duplicates, each with its own seq (spec 14 E33).
            raw: bypass the intent filter and content rules.

        Returns:
            The number of sessions it was queued for.
        """
        return self.hub.dispatch(event_name, data, guild_id, copies=copies, raw=raw)

    async def send_message(
        self,
        channel_id: int | str,
        content: str,
        *,
        author: User | int | str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create a message and dispatch a realistic MESSAGE_CREATE (spec 10.8).

        Args:
            channel_id: a text channel, thread or DM channel of the world.
            content: the text; ``<@id>`` mentions fill ``mentions``.
            author: a user or user id (default: a human member of the guild).
            **extra: nonce, tts, embeds, components.

        Returns:
            The message object as created (sessions without MESSAGE_CONTENT get it blanked).

        Raises:
            KeyError: unknown channel or author.
        """
        message = self.hub.create_message(channel_id, content, author=author, **extra)
        self.rest.messages.remember(message)
        return message

    async def join_guild(self, name: str | None = None) -> tuple[Guild, int]:
        """The bot joins a new guild: GUILD_CREATE for an id not in READY (spec 14 D29).

        Returns:
            The new guild and the number of sessions told.
        """
        guild = self.world.add_guild(name)
        count = self.hub.dispatch_built(
            "GUILD_CREATE", lambda s: self.hub.guild_create_for(s, guild.id), guild.id
        )
        return guild, count

    async def leave_guild(self, guild_id: int | str) -> int:
        """The bot is removed from a guild: GUILD_DELETE without ``unavailable`` (D29).

        Raises:
            KeyError: unknown guild.
        """
        guild = self.world.remove_guild(guild_id)
        payload = unavailable_guild(guild.id)
        del payload["unavailable"]
        return self.hub.dispatch("GUILD_DELETE", payload, guild.id)
