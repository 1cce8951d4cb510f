"""The gateway endpoint: one :class:`GatewayDriver` per WebSocket (spec 1.4, 2-7, 14 B-I).

Order of events on a socket: query check (4012/4002), HELLO (or a scripted fault), then
a read loop that checks every client frame (send rate 4008, size and JSON 4002, opcode
4001/4003) and hands it to the opcode's handler. A watchdog closes the socket when no
heartbeat came for ``interval * grace`` (default code 4009).

IDENTIFY creates a session and sends READY at s=1, then streams one GUILD_CREATE per guild.
RESUME replays every buffered dispatch after the client's seq with the original seq
numbers, then RESUMED with the next seq. Session consequences of each close are applied by
the hub at the moment the close is decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from typing import Any

from aiohttp import WSMsgType, web

from tether.emulator import rules
from tether.emulator.connection import Connection
from tether.emulator.hub import ConnectionScript, Hub
from tether.emulator.payloads import unavailable_guild, user_payload
from tether.emulator.requests import RequestHandlers
from tether.emulator.sessions import ResumeCheck, Session, SessionState
from tether.wire.close_codes import CloseCode
from tether.wire.codec import DecodeError, decode_frame
from tether.wire.opcodes import Op

__all__ = ["GatewayDriver", "handle_gateway"]

_TRACE = ['["tether-emulator",{"micros":0}]']
#: The largest client message aiohttp will assemble; the 4096-byte rule is ours (4002).
_MAX_MESSAGE = 1 << 20


async def handle_gateway(hub: Hub, request: web.Request) -> web.WebSocketResponse:
    """The aiohttp handler for ``/`` and ``/resume``: run one gateway connection to its end."""
    ws = web.WebSocketResponse(
        autoping=True,
        compress=False,
        max_msg_size=_MAX_MESSAGE,
        timeout=hub.config.server_close_timeout_s,
        decode_text=False,
    )
    await ws.prepare(request)
    verdict = rules.check_query(request.query, zstd_available=hub.zstd_available)
    conn = Connection(
        hub.next_conn_id(),
        ws=ws,
        request=request,
        compress=verdict.compress,
        log=hub.log,
        clock=hub.now,
        rng=hub.rng,
        zlib_level=hub.config.zlib_level,
        precompressed=hub.precompressed if hub.config.prerender_guild_creates else None,
    )
    hub.connections[conn.id] = conn
    peer = request.transport.get_extra_info("peername") if request.transport else None
    hub.log.add(
        "connect",
        conn_id=conn.id,
        path=request.path,
        query=dict(request.query),
        compress=verdict.compress,
        remote=list(peer) if isinstance(peer, tuple) else None,
    )
    try:
        await GatewayDriver(hub, conn).run(verdict)
    finally:
        hub.connections.pop(conn.id, None)
        if conn.sent_close_code is not None and not conn.writer_task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.shield(conn.writer_task), hub.config.server_close_timeout_s + 1
                )
        await conn.finish()
    return ws


class GatewayDriver:
    """Runs the server side of one gateway connection.

    Args:
        hub: the emulator's shared state.
        conn: the connection (already registered with the hub).
    """

    def __init__(self, hub: Hub, conn: Connection) -> None:
        self.hub = hub
        self.conn = conn
        self.script: ConnectionScript | None = None
        self.requests = RequestHandlers(hub, conn)
        self._client_code: int | None = None
        self._client_dropped = False

    # lifecycle ---------------------------------------------------------------------------

    async def run(self, verdict: rules.QueryVerdict) -> None:
        """Handshake, read until the socket ends, then settle the session and log."""
        watchdog: asyncio.Task[None] | None = None
        try:
            if verdict.rejection is not None:
                self._close(verdict.rejection.close_code or 4000, verdict.rejection.reason)
            else:
                self.script = self.hub.take_script()
                if await self._open():
                    watchdog = asyncio.create_task(
                        self._heartbeat_watchdog(), name=f"emulator watchdog (conn {self.conn.id})"
                    )
            await self._read_loop()
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if self.conn.session is not None:
                self.hub.client_gone(self.conn, None)
            self._log_end()

    def _log_end(self) -> None:
        conn = self.conn
        if conn.aborted:
            by, code = "server_abort", None
        elif self._client_code is not None:
            by, code = "client", self._client_code
        elif conn.sent_close_code is not None:
            by, code = "server", conn.sent_close_code
        else:
            by, code = "drop", None
        self.hub.log.add("disconnect", conn_id=conn.id, by=by, code=code)

    async def _open(self) -> bool:
        """Send HELLO (or the scripted alternative). Returns whether to run the watchdog."""
        script, config = self.script, self.hub.config
        delay = script.hello_delay_s if script and script.hello_delay_s is not None else None
        delay = config.hello_delay_s if delay is None else delay
        if script is not None and script.reconnect_instead_of_hello:
            self.hub.log.add("fault", conn_id=self.conn.id, name="reconnect_instead_of_hello")
            self.hub.send_reconnect(self.conn)
            return False
        if script is not None and script.no_hello:
            self.hub.log.add("fault", conn_id=self.conn.id, name="no_hello")
            return False
        if delay > 0:
            self.hub.log.add("fault", conn_id=self.conn.id, name="hello_delay", seconds=delay)
            await asyncio.sleep(delay)
        if self.conn.closing:
            return False
        interval = config.heartbeat_interval_ms
        hello: dict[str, Any] = {"heartbeat_interval": interval}
        if config.hello_trace:
            hello["_trace"] = list(_TRACE)
        self.conn.hello_at = self.conn.last_heartbeat_at = self.hub.now()
        self.conn.send_payload(Op.HELLO, hello)
        self.hub.log.add("hello", conn_id=self.conn.id, heartbeat_interval=interval)
        if script is not None and script.close_code is not None:
            self._close(script.close_code, "scripted close after HELLO")
        return True

    def _close(self, code: int, reason: str, *, keep_session: bool | None = None) -> None:
        self.hub.server_close(self.conn, code, reason, keep_session=keep_session)

    async def _heartbeat_watchdog(self) -> None:
        """Close when no heartbeat arrived for ``interval * grace`` (spec 3.1 rule 7)."""
        conn, config = self.conn, self.hub.config
        while conn.live and not conn.black_holed:
            limit = config.heartbeat_interval_ms / 1000 * config.heartbeat_grace
            delay = conn.last_heartbeat_at + limit - self.hub.now()
            if delay <= 0:
                self.hub.log.add("heartbeat_timeout", conn_id=conn.id, limit=limit)
                self._close(config.heartbeat_timeout_close_code, "heartbeat timed out")
                return
            await asyncio.sleep(delay)

    async def _read_loop(self) -> None:
        conn, ws = self.conn, self.conn.ws
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                if conn.black_holed or conn.closing:
                    continue
                data = msg.data if isinstance(msg.data, bytes) else str(msg.data).encode()
                try:
                    self._on_message(data, binary=msg.type is WSMsgType.BINARY)
                except Exception as exc:  # an emulator bug: record it, keep serving
                    self.hub.log.add(
                        "internal_error",
                        conn_id=conn.id,
                        error=repr(exc),
                        traceback=traceback.format_exc(),
                    )
                    self._close(CloseCode.UNKNOWN_ERROR, "emulator internal error")
                continue
            if msg.type is WSMsgType.CLOSE:
                code = int(msg.data) if isinstance(msg.data, int) else None
                self.hub.log.add("close_received", conn_id=conn.id, code=code)
                if not conn.closing:
                    self._client_code = code
                    conn.closing = True
                    self.hub.client_gone(conn, code)
            elif msg.type is not WSMsgType.CLOSING and not conn.closing:
                self.hub.log.add("drop", conn_id=conn.id, initiator="client")
                self._client_dropped = True
                conn.closing = True
                self.hub.client_gone(conn, None)
            return

    # inbound frames ----------------------------------------------------------------------

    def _over_rate_limit(self) -> bool:
        """Count one client frame in the sliding window (spec 6.1); True past the limit."""
        now, config = self.hub.now(), self.hub.config
        frames = self.conn.frames_in
        frames.append(now)
        cutoff = now - config.send_window_s
        while frames and frames[0] <= cutoff:
            frames.pop(0)
        return len(frames) > config.send_limit

    def _on_message(self, data: bytes, *, binary: bool) -> None:
        conn, config = self.conn, self.hub.config
        if self._over_rate_limit():
            self._close(CloseCode.RATE_LIMITED, "you are sending too fast")
            return
        if len(data) > config.max_payload:
            self.hub.log.add("frame_in", conn_id=conn.id, op=None, size=len(data), binary=binary)
            self._close(CloseCode.DECODE_ERROR, f"payload over {config.max_payload} bytes")
            return
        try:
            frame = decode_frame(data)
            d = frame.data()
        except DecodeError:
            self.hub.log.add("frame_in", conn_id=conn.id, op=None, size=len(data), binary=binary)
            self._close(CloseCode.DECODE_ERROR, "error while decoding payload")
            return
        session_id = conn.session.id if conn.session else None
        self.hub.log.add(
            "frame_in", conn_id=conn.id, session_id=session_id, op=frame.op, size=len(data),
            binary=binary,
        )  # fmt: skip
        rejection = rules.check_opcode(frame.op, authenticated=conn.authenticated)
        if rejection is not None:
            self._close(rejection.close_code or CloseCode.UNKNOWN_OPCODE, rejection.reason)
            return
        if frame.op == Op.HEARTBEAT:
            self._on_heartbeat(d)
        elif frame.op == Op.IDENTIFY:
            self._on_identify(d)
        elif frame.op == Op.RESUME:
            self._on_resume(d)
        else:
            problem = self.requests.handle(frame.op, d)
            if problem is not None:
                self._close(problem.close_code or CloseCode.UNKNOWN_OPCODE, problem.reason)

    def _on_heartbeat(self, d: Any) -> None:
        conn, hub = self.conn, self.hub
        now = hub.now()
        conn.heartbeats += 1
        session = conn.session
        expected = session.last_sent_seq if session is not None else None
        requested = None
        if conn.heartbeat_requested_at is not None:
            requested = now - conn.heartbeat_requested_at
            conn.heartbeat_requested_at = None
        hub.log.add(
            "heartbeat",
            conn_id=conn.id,
            session_id=session.id if session else None,
            d=d,
            expected=expected,
            matches=(d == expected) if session is not None else None,
            since_hello=None if conn.hello_at is None else now - conn.hello_at,
            since_last=now - conn.last_heartbeat_at if conn.heartbeats > 1 else None,
            first=conn.heartbeats == 1,
            requested_latency=requested,
        )
        conn.last_heartbeat_at = now
        if conn.should_drop_ack():
            hub.log.add("heartbeat_ack", conn_id=conn.id, dropped=True, delay=0.0)
        elif conn.ack_delay_s > 0:
            hub.log.add("heartbeat_ack", conn_id=conn.id, dropped=False, delay=conn.ack_delay_s)
            asyncio.get_running_loop().call_later(
                conn.ack_delay_s, conn.send_payload, Op.HEARTBEAT_ACK, None
            )
        else:
            conn.send_payload(Op.HEARTBEAT_ACK, None)
            hub.log.add("heartbeat_ack", conn_id=conn.id, dropped=False, delay=0.0)

    # identify ----------------------------------------------------------------------------

    def _on_identify(self, d: Any) -> None:
        conn, hub, config = self.conn, self.hub, self.hub.config
        if conn.identified or conn.authenticated:
            self._close(CloseCode.ALREADY_AUTHENTICATED, "already authenticated")
            return
        verdict = rules.parse_identify(
            d,
            token=hub.token,
            enabled_privileged=config.enabled_privileged_intents,
            guilds_on_shard=lambda shard: len(hub.world.guilds_on_shard(shard)),
            max_guilds_per_shard=config.max_guilds_per_shard,
            shard_count_multiple=config.shard_count_multiple,
        )
        if isinstance(verdict, rules.Rejection):
            hub.log.add(
                "identify_rejected", conn_id=conn.id, code=verdict.close_code, reason=verdict.reason
            )
            self._close(verdict.close_code or CloseCode.UNKNOWN_OPCODE, verdict.reason)
            return
        if not hub.identify_slot_free(verdict.shard):
            hub.log.add("identify_rejected", conn_id=conn.id, code=None, reason="concurrency")
            conn.send_payload(Op.INVALID_SESSION, False)
            return
        if hub.budget_remaining() <= 0:
            hub.log.add("identify_rejected", conn_id=conn.id, code=4004, reason="budget")
            self._close(CloseCode.AUTHENTICATION_FAILED, "session start limit reached")
            return
        config.session_start_remaining -= 1
        hub.identify_count += 1
        conn.identified = conn.authenticated = True
        conn.payload_compress = verdict.compress and conn.compress is None
        conn.payload_compression_threshold = config.payload_compression_threshold
        hub.log.add(
            "identify",
            conn_id=conn.id,
            path=conn.path,
            shard=list(verdict.shard) if verdict.shard else None,
            intents=verdict.intents,
            compress=verdict.compress,
            large_threshold=verdict.large_threshold,
            properties=verdict.properties,
        )
        script = self.script
        if script is not None and (script.hold_ready or script.ready_delay_s):
            hub.spawn(self._ready_later(verdict, script), f"emulator held READY (conn {conn.id})")
        else:
            self._send_ready(verdict)

    async def _ready_later(self, request: rules.IdentifyRequest, script: ConnectionScript) -> None:
        """Delayed READY (spec 14 D28): heartbeats keep being ACKed meanwhile."""
        self.hub.log.add("fault", conn_id=self.conn.id, name="ready_held", hold=script.hold_ready)
        if script.hold_ready:
            self.conn.ready_gate = asyncio.Event()
            await self.conn.ready_gate.wait()
            self.conn.ready_gate = None
        if script.ready_delay_s:
            await asyncio.sleep(script.ready_delay_s)
        if self.conn.live:
            self._send_ready(request)

    def _send_ready(self, request: rules.IdentifyRequest) -> None:
        hub, conn = self.hub, self.conn
        world = hub.world
        session = Session(
            hub.new_session_id(),
            intents=request.intents,
            shard=request.shard,
            large_threshold=request.large_threshold,
            compress=request.compress,
            properties=request.properties,
            now=hub.now(),
        )
        session.guild_ids = world.guilds_on_shard(request.shard)
        hub.sessions[session.id] = session
        session.attach(conn)
        conn.session = session
        hub.log.add("session_created", conn_id=conn.id, session_id=session.id)
        me = user_payload(world.bot)
        me.update(verified=True, mfa_enabled=False, email=None)
        ready: dict[str, Any] = {
            "v": rules.API_VERSION,
            "user_settings": {},
            "user": me,
            "session_type": "normal",
            "session_id": session.id,
            "resume_gateway_url": hub.resume_gateway_url,
            "relationships": [],
            "presences": [],
            "guilds": [unavailable_guild(g) for g in session.guild_ids],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["emulator"],
            "auth": {},
            "application": {"id": str(world.application_id), "flags": 0},
            "_trace": list(_TRACE),
        }
        if request.shard is not None:
            ready["shard"] = list(request.shard)
        if hub.config.include_private_channels:
            ready["private_channels"] = []
        if hub.config.ready_padding_bytes > 0:
            ready["_emulator_padding"] = "x" * hub.config.ready_padding_bytes
        hub.deliver(session, "READY", ready, buffered=False)
        hub.log.add("ready", conn_id=conn.id, session_id=session.id, guilds=len(session.guild_ids))
        task = hub.spawn(hub.stream_guilds(session), f"emulator guild stream ({session.id})")
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    # resume ------------------------------------------------------------------------------

    def _on_resume(self, d: Any) -> None:
        conn, hub = self.conn, self.hub
        if conn.identified or conn.authenticated:
            self._close(CloseCode.ALREADY_AUTHENTICATED, "already authenticated")
            return
        request = rules.parse_resume(d)
        if isinstance(request, rules.Rejection):
            self._reject_resume(None, None, request.reason, request.close_code)
            return
        if request.token != hub.token:
            self._reject_resume(request, None, "invalid token", CloseCode.AUTHENTICATION_FAILED)
            return
        hub.expire_sessions()
        session = hub.sessions.get(request.session_id)
        if session is None or session.state is SessionState.INVALID:
            self._reject_resume(request, session, "unknown or invalid session", None)
            return
        check = session.check_resume(request.seq)
        if check is not ResumeCheck.OK:
            hub.invalidate(session, f"resume with seq {request.seq}: {check.value}")
            code = CloseCode.INVALID_SEQ if check is ResumeCheck.AHEAD else None
            self._reject_resume(request, session, check.value, code)
            return
        self._take_over(session)
        replay = session.replay_after(request.seq)
        for item in replay:
            conn.send_payload(0, item.d, s=item.s, t=item.t, session=session)
        resumed = hub.deliver(session, "RESUMED", {"_trace": list(_TRACE)}, buffered=False)
        session.resume_count += 1
        hub.resume_count += 1
        hub.log.add(
            "resume",
            conn_id=conn.id,
            session_id=session.id,
            seq=request.seq,
            path=conn.path,
            replayed=len(replay),
            resumed_seq=resumed.s,
        )

    def _take_over(self, session: Session) -> None:
        """Move ``session`` onto this socket, closing its old socket if open (spec 14 G44)."""
        old = session.connection
        if old is not None and old is not self.conn:
            old.session = None
            self.hub.log.add(
                "fault", conn_id=old.id, session_id=session.id, name="replaced_by_resume"
            )
            self.hub.server_close(old, CloseCode.UNKNOWN_ERROR, "session resumed elsewhere")
        session.attach(self.conn)
        self.conn.session = session
        self.conn.authenticated = True

    def _reject_resume(
        self,
        request: rules.ResumeRequest | None,
        session: Session | None,
        reason: str,
        close_code: int | None,
    ) -> None:
        self.hub.log.add(
            "resume_rejected",
            conn_id=self.conn.id,
            session_id=request.session_id if request else None,
            seq=request.seq if request else None,
            path=self.conn.path,
            reason=reason,
            code=close_code,
            known=session is not None,
        )
        if close_code is None:
            self.conn.send_payload(Op.INVALID_SESSION, False)
        else:
            self._close(close_code, reason)
