"""The shared state of one emulator run, and dispatch routing to sessions.

The :class:`Hub` holds the config, the world, the log, every session and live connection,
the identify budget and the guild-stream faults. Gateway connections (``gateway.py``),
REST (``rest.py``), faults (``faults.py``) and the control API all act through it.

Session consequences of closes live here in one place (:meth:`Hub.server_close`,
:meth:`Hub.client_gone`), applied at the moment the close is decided, so a client that
reconnects quickly never races the old socket's cleanup.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

import msgspec

from tether.emulator import rules
from tether.emulator.config import EmulatorConfig
from tether.emulator.connection import Connection
from tether.emulator.log import EventLog
from tether.emulator.payloads import guild_create_payload, message_payload, unavailable_guild
from tether.emulator.routing import apply_content_rules, event_guild_id, routes_to, wants_event
from tether.emulator.sessions import BufferedDispatch, Session, SessionState
from tether.emulator.world import User, World
from tether.wire.codec import encode_json
from tether.wire.intents import Intents
from tether.wire.opcodes import Op

__all__ = ["ChunkFault", "ConnectionScript", "Hub", "loop_time"]


def loop_time() -> float:
    """The running loop's clock (``time.monotonic`` outside a loop, which is the same clock)."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


@dataclasses.dataclass
class ConnectionScript:
    """How the next new connection(s) behave (spec 14 B11, D28).

    Attributes:
        hello_delay_s: wait this long before HELLO.
        no_hello: never send HELLO.
        reconnect_instead_of_hello: send op 7 instead of HELLO, then close after
            ``config.reconnect_close_delay_s``.
        ready_delay_s: accept IDENTIFY, keep ACKing, send READY after this delay.
        hold_ready: accept IDENTIFY, keep ACKing, send READY only on ``release_ready``.
        close_code: close with this code right after HELLO.
        count: how many connections this script applies to.
    """

    hello_delay_s: float | None = None
    no_hello: bool = False
    reconnect_instead_of_hello: bool = False
    ready_delay_s: float | None = None
    hold_ready: bool = False
    close_code: int | None = None
    count: int = 1


@dataclasses.dataclass
class ChunkFault:
    """How the next member request(s) are answered badly (spec 14 F39).

    Attributes:
        after: chunks sent normally before the fault.
        pause_s: then wait this long before the rest (None: no pause).
        cut: stop after ``after`` chunks; the rest is never sent.
        count: how many requests it applies to.
    """

    after: int = 1
    pause_s: float | None = None
    cut: bool = False
    count: int = 1


class Hub:
    """Everything one emulator run knows.

    Args:
        token: the only token the gateway and REST accept.
        config: the (mutable) knobs.
        world: the seeded world.
        seed: seeds fault randomness and session ids.
        zstd_available: whether ``compress=zstd-stream`` can be served.
    """

    def __init__(
        self,
        *,
        token: str,
        config: EmulatorConfig,
        world: World,
        seed: int = 0,
        zstd_available: bool = False,
    ) -> None:
        self.token = token
        self.config = config
        self.world = world
        self.rng = random.Random(seed ^ 0x5EED)
        self.zstd_available = zstd_available
        self.log = EventLog(loop_time, lambda: self.config.log_limit)
        self.sessions: dict[str, Session] = {}
        self.connections: dict[int, Connection] = {}
        self.identify_count = 0
        self.resume_count = 0
        self.gateway_url = ""
        self.resume_gateway_url = ""
        self.outages: dict[int, str] = {}
        self.never_stream: set[int] = set()
        self.scripts: list[ConnectionScript] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.member_requests: dict[int, float] = {}
        self.chunk_faults: list[ChunkFault] = []
        self.prerendered: dict[tuple[int, int, int], msgspec.Raw] = {}
        self.precompressed: dict[int, bytes] = {}
        self._conn_ids = itertools.count(1)
        self._bucket_last: dict[int, float] = {}
        self._budget_reset_at: float | None = None

    # bookkeeping -------------------------------------------------------------------------

    def now(self) -> float:
        """The loop clock."""
        return loop_time()

    def next_conn_id(self) -> int:
        """A fresh connection id."""
        return next(self._conn_ids)

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """Run a background task owned by the emulator (cancelled on stop)."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def take_script(self) -> ConnectionScript | None:
        """The script for a new connection, if one is pending (consumes one use)."""
        if not self.scripts:
            return None
        script = self.scripts[0]
        script.count -= 1
        if script.count <= 0:
            self.scripts.pop(0)
        return script

    def take_chunk_fault(self) -> ChunkFault | None:
        """The fault for the next member request, if one is pending (consumes one use)."""
        if not self.chunk_faults:
            return None
        fault = self.chunk_faults[0]
        fault.count -= 1
        if fault.count <= 0:
            self.chunk_faults.pop(0)
        return fault

    def new_session_id(self) -> str:
        """A random-looking 32-hex-digit session id."""
        return secrets.token_hex(16)

    def expire_sessions(self) -> None:
        """Invalidate detached sessions whose resume window has passed."""
        now = self.now()
        for session in self.sessions.values():
            if session.expire_if_due(now):
                self.log.add("session_invalidated", session_id=session.id, reason="expired")

    def targets(self, session_id: str | None = None) -> list[Connection]:
        """Live connections: all of them, or the one attached to ``session_id``."""
        conns = [c for c in self.connections.values() if not c.closing]
        if session_id is None:
            return conns
        return [c for c in conns if c.session is not None and c.session.id == session_id]

    # identify budget and concurrency -----------------------------------------------------

    def budget_remaining(self) -> int:
        """``session_start_limit.remaining``, refilled when the reset time has passed."""
        now = self.now()
        if self._budget_reset_at is None:
            self._budget_reset_at = now + self.config.session_start_reset_after_s
        elif now >= self._budget_reset_at:
            self.config.session_start_remaining = self.config.session_start_total
            self._budget_reset_at = now + self.config.session_start_reset_after_s
        return self.config.session_start_remaining

    def budget_reset_after_ms(self) -> int:
        """Milliseconds until the identify budget refills."""
        self.budget_remaining()
        assert self._budget_reset_at is not None
        return max(0, int((self._budget_reset_at - self.now()) * 1000))

    def identify_slot_free(self, shard: tuple[int, int] | None) -> bool:
        """Take the identify slot of the shard's bucket if the 5 s window allows (spec 6.2)."""
        window = self.config.identify_window_s
        if window <= 0:
            return True
        bucket = rules.identify_bucket(shard, self.config.max_concurrency)
        now = self.now()
        last = self._bucket_last.get(bucket)
        if last is not None and now - last < window:
            return False
        self._bucket_last[bucket] = now
        return True

    # sessions ----------------------------------------------------------------------------

    def invalidate(self, session: Session, reason: str) -> None:
        """Make a session unresumable (logged once)."""
        if session.invalidate(reason):
            self.log.add("session_invalidated", session_id=session.id, reason=reason)

    def detach(self, session: Session) -> None:
        """Keep a session resumable without a socket until it expires."""
        if session.state is SessionState.ACTIVE:
            session.detach(self.now(), self.config.session_expiry_s)
            self.log.add("session_detached", session_id=session.id, seq=session.seq)

    def server_close(
        self,
        conn: Connection,
        code: int,
        reason: str = "",
        *,
        keep_session: bool | None = None,
    ) -> asyncio.Future[None]:
        """Close ``conn`` from the server side and settle its session now (spec 14 H47).

        Args:
            conn: the connection.
            code: the close code.
            reason: the close reason text.
            keep_session: override the rules' verdict on the session (None: follow them).
        """
        keep = rules.server_close_keeps_session(code) if keep_session is None else keep_session
        session = conn.session
        effect = "none"
        if session is not None and session.connection is conn:
            effect = "kept" if keep else "invalidated"
            if keep:
                self.detach(session)
            else:
                self.invalidate(session, f"server closed with {code}")
        conn.session = None
        if not conn.closing:
            self.log.add(
                "close_sent",
                conn_id=conn.id,
                session_id=session.id if session else None,
                code=code,
                reason=reason,
                session_effect=effect,
            )
        return conn.close(code, reason)

    def client_gone(self, conn: Connection, code: int | None) -> None:
        """The client closed with ``code`` (None: TCP drop); settle its session (G43)."""
        session = conn.session
        conn.session = None
        if session is None or session.connection is not conn:
            return
        if rules.client_close_keeps_session(code):
            self.detach(session)
        else:
            self.invalidate(session, f"client closed with {code}")

    def send_reconnect(
        self, conn: Connection, close_after_s: float | None = -1.0, code: int | None = None
    ) -> None:
        """Send op 7, then close after a delay, keeping the session resumable (spec 14 H45).

        Args:
            conn: the connection.
            close_after_s: seconds until the close; -1 means ``config.reconnect_close_delay_s``;
                None means never close.
            code: the close code (default ``config.reconnect_close_code``).
        """
        delay = self.config.reconnect_close_delay_s if close_after_s == -1.0 else close_after_s
        close_code = self.config.reconnect_close_code if code is None else code
        conn.send_payload(Op.RECONNECT, None)
        if delay is not None:

            def close_if_open() -> None:
                if conn.live:
                    self.server_close(conn, close_code, "reconnect requested", keep_session=True)

            asyncio.get_running_loop().call_later(delay, close_if_open)

    def invalid_session(self, conn: Connection, resumable: bool) -> None:
        """Send op 9 and keep the socket open for a close or a new IDENTIFY (spec 2.11).

        ``resumable=False`` invalidates the connection's session; True keeps it resumable
        (detached). Either way the socket may IDENTIFY or RESUME again.
        """
        session = conn.session
        if session is not None and session.connection is conn:
            if resumable:
                self.detach(session)
            else:
                self.invalidate(session, "invalid session sent")
        conn.session = None
        conn.authenticated = conn.identified = False
        conn.send_payload(Op.INVALID_SESSION, resumable)

    # dispatch ----------------------------------------------------------------------------

    def deliver(
        self, session: Session, t: str, d: Any, *, buffered: bool = True
    ) -> BufferedDispatch:
        """Give one dispatch to one session: next seq, buffer, and send if a socket is attached."""
        item = session.next_dispatch(
            t, d, max_buffer=self.config.replay_buffer_size, buffered=buffered
        )
        conn = session.connection
        if conn is not None and conn.session is session and conn.live:
            conn.send_payload(0, d, s=item.s, t=t, session=session)
        return item

    def live_sessions(self) -> list[Session]:
        """Sessions that are active or still resumable."""
        self.expire_sessions()
        return [s for s in self.sessions.values() if s.state is not SessionState.INVALID]

    def dispatch_built(
        self,
        event: str,
        build: Callable[[Session], Any],
        guild_id: int | None,
        *,
        copies: int = 1,
        raw: bool = False,
    ) -> int:
        """Dispatch a per-session payload to every session that should see it.

        Args:
            event: the dispatch name.
            build: makes ``d`` for one session (return None to skip that session).
            guild_id: the guild routed on (None: shard 0 only).
            copies: deliver this many copies, each with its own seq (spec 14 E33).
            raw: skip the intent filter and content rules.

        Returns:
            How many sessions it was queued for.
        """
        count = 0
        deliveries: list[list[Any]] = []
        bot_id = self.world.bot.id
        for session in self.live_sessions():
            if not routes_to(session.shard, guild_id):
                continue
            d = build(session)
            if d is None:
                continue
            if not raw:
                if not wants_event(event, d, guild_id, session.intents, bot_id):
                    continue
                d = apply_content_rules(event, d, session.intents, bot_id)
            for _ in range(max(1, copies)):
                entry = self.deliver(session, event, d)
                deliveries.append([session.id, entry.s])
            count += 1
        self.log.add("dispatch", t=event, sessions=count, guild_id=guild_id, deliveries=deliveries)
        return count

    def dispatch(
        self,
        event: str,
        data: Any,
        guild_id: int | str | None = None,
        *,
        copies: int = 1,
        raw: bool = False,
    ) -> int:
        """Dispatch the same ``d`` to every session that should see it (see dispatch_built)."""
        gid = int(guild_id) if guild_id is not None else event_guild_id(event, data)
        return self.dispatch_built(event, lambda _s: data, gid, copies=copies, raw=raw)

    def create_message(
        self,
        channel_id: int | str,
        content: str,
        *,
        author: User | int | str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create a message in the world and dispatch its MESSAGE_CREATE (spec 10.8).

        Args:
            channel_id: a guild text channel, thread or DM channel of the world.
            content: the message text.
            author: a user or user id (default: the first human member of the guild, or
                the DM's recipient).
            **extra: nonce, tts, embeds, components (see payloads.message_payload).

        Returns:
            The message object as dispatched (before per-session content rules).

        Raises:
            KeyError: unknown channel or author.
        """
        world = self.world
        channel = world.channel(channel_id)
        if channel is None:
            raise KeyError(f"unknown channel {channel_id}")
        if isinstance(author, User):
            user: User | None = author
        elif author is not None:
            user = world.user(author)
        elif channel.guild_id is not None:
            humans = [
                m.user for m in world.guild(channel.guild_id).members.values() if not m.user.bot
            ]
            user = humans[0] if humans else world.bot
        else:
            user = world.user(channel.recipient_id or world.bot.id)
        if user is None:
            raise KeyError(f"unknown author {author}")
        message = message_payload(world, channel, content, author=user, **extra)
        self.dispatch("MESSAGE_CREATE", message, channel.guild_id)
        return message

    def guild_create_for(self, session: Session, guild_id: int) -> Any:
        """The full GUILD_CREATE ``d`` of one guild as ``session`` sees it.

        With ``config.prerender_guild_creates`` it is the encoded body (``msgspec.Raw``),
        built once per (guild, intents, large_threshold).
        """
        key = (guild_id, session.intents, session.large_threshold)
        if self.config.prerender_guild_creates:
            body = self.prerendered.get(key)
            if body is not None:
                return body
        payload = guild_create_payload(
            self.world.guild(guild_id),
            bot_id=self.world.bot.id,
            intents=session.intents,
            large_threshold=session.large_threshold,
        )
        if self.config.prerender_guild_creates:
            body = self.prerendered[key] = msgspec.Raw(encode_json(payload))
            return body
        return payload

    async def stream_guilds(self, session: Session) -> None:
        """After READY: one GUILD_CREATE per guild, honouring the outage faults (spec 4.3)."""
        order = list(session.guild_ids)
        if not session.intents & Intents.GUILDS:
            order = []
        if self.config.guild_create_shuffle:
            self.rng.shuffle(order)
        for guild_id in order:
            if self.config.guild_create_delay_s > 0:
                await asyncio.sleep(self.config.guild_create_delay_s)
            if session.state is SessionState.INVALID:
                return
            if guild_id in self.never_stream or guild_id not in self.world.guilds:
                continue
            mode = self.outages.get(guild_id)
            if mode == "create_unavailable":
                self.deliver(session, "GUILD_CREATE", unavailable_guild(guild_id))
            elif mode is not None:
                self.deliver(session, "GUILD_DELETE", unavailable_guild(guild_id))
            else:
                self.deliver(session, "GUILD_CREATE", self.guild_create_for(session, guild_id))
        self.log.add("guild_stream_done", session_id=session.id)

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot of sessions, connections, counters and faults."""
        self.expire_sessions()
        return {
            "gateway_url": self.gateway_url,
            "resume_gateway_url": self.resume_gateway_url,
            "identify_count": self.identify_count,
            "resume_count": self.resume_count,
            "session_start_remaining": self.budget_remaining(),
            "sessions": {sid: s.summary() for sid, s in self.sessions.items()},
            "connections": [c.summary() for c in self.connections.values()],
            "outages": {str(g): m for g, m in self.outages.items()},
            "never_stream": [str(g) for g in self.never_stream],
            "pending_scripts": [dataclasses.asdict(s) for s in self.scripts],
            "log_length": len(self.log),
        }
