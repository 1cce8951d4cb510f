"""Scriptable faults (spec 14 B11, C19-21, D26-28, E33, G42, H45-51), as one API object.

``emu.faults`` is a :class:`Faults`. Connection faults act on every live connection, or
only on the one attached to ``session_id``, and return how many connections they hit.
"Next connection" behaviours are queued with :meth:`Faults.next_connection`. Every call is
logged as a ``fault`` record, and every method is reachable over HTTP as
``POST /_emulator/faults/<method name>`` with the keyword arguments as a JSON object.
"""

from __future__ import annotations

from typing import Any

from tether.emulator.connection import ZLIB_SUFFIX, TrickleSpec
from tether.emulator.hub import ChunkFault, ConnectionScript, Hub
from tether.emulator.payloads import unavailable_guild
from tether.emulator.sessions import SessionState
from tether.wire.codec import encode_json
from tether.wire.opcodes import Op

__all__ = ["FAULT_NAMES", "Faults"]

#: The public fault methods (the control API exposes exactly these).
FAULT_NAMES = (
    "close",
    "drop",
    "reconnect",
    "invalid_session",
    "black_hole",
    "drop_acks",
    "delay_acks",
    "restore_acks",
    "request_heartbeat",
    "next_connection",
    "clear_next_connection",
    "release_ready",
    "guild_outage",
    "guild_recover",
    "never_stream",
    "member_chunks",
    "send_raw",
    "unknown_opcode",
    "malformed_frame",
    "corrupt_zlib",
    "split_next",
    "trickle_next",
    "oversized",
    "unknown_fields",
    "expire_session",
)


class Faults:
    """Fault injection on a running emulator.

    Args:
        hub: the emulator's shared state.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def _targets(self, name: str, session_id: str | None, **args: Any) -> list[Any]:
        conns = self._hub.targets(session_id)
        for conn in conns:
            self._hub.log.add(
                "fault",
                conn_id=conn.id,
                session_id=conn.session.id if conn.session else None,
                name=name,
                **args,
            )
        if not conns:
            self._hub.log.add("fault", session_id=session_id, name=name, targets=0, **args)
        return conns

    # closing and dropping ----------------------------------------------------------------

    def close(
        self,
        code: int = 4000,
        *,
        session_id: str | None = None,
        reason: str = "",
        keep_session: bool | None = None,
    ) -> int:
        """Close with ``code`` (any code: 4000-4014, 1000, 1001, ...; spec 14 H47, H48).

        The session follows the rules (resumable after 4000/4001/4002/4005/4008 and
        non-4xxx codes, invalidated after 4003/4007/4009/4004/4010-4014) unless
        ``keep_session`` overrides that.
        """
        conns = self._targets("close", session_id, code=code)
        for conn in conns:
            self._hub.server_close(conn, code, reason, keep_session=keep_session)
        return len(conns)

    def drop(self, *, session_id: str | None = None) -> int:
        """Abort the TCP connection without a close frame; the session stays resumable (H49)."""
        conns = self._targets("drop", session_id)
        for conn in conns:
            if conn.session is not None:
                self._hub.client_gone(conn, None)
            self._hub.log.add("drop", conn_id=conn.id, initiator="server")
            conn.abort()
        return len(conns)

    def reconnect(
        self,
        *,
        session_id: str | None = None,
        close_after_s: float | None = -1.0,
        code: int | None = None,
    ) -> int:
        """Send op 7; close after ``close_after_s`` (-1: the config's delay; None: never) (H45)."""
        conns = self._targets("reconnect", session_id, close_after_s=close_after_s)
        for conn in conns:
            self._hub.send_reconnect(conn, close_after_s, code)
        return len(conns)

    def invalid_session(self, resumable: bool = False, *, session_id: str | None = None) -> int:
        """Send op 9 with ``d = resumable`` and keep the socket open (H46, spec 2.11)."""
        conns = self._targets("invalid_session", session_id, resumable=resumable)
        for conn in conns:
            self._hub.invalid_session(conn, resumable)
        return len(conns)

    def black_hole(self, *, session_id: str | None = None) -> int:
        """Stop sending anything and stop reading; TCP stays open (H50)."""
        conns = self._targets("black_hole", session_id)
        for conn in conns:
            conn.set_black_hole()
        return len(conns)

    # heartbeats --------------------------------------------------------------------------

    def drop_acks(
        self,
        count: int | None = None,
        *,
        probability: float | None = None,
        session_id: str | None = None,
    ) -> int:
        """Stop ACKing heartbeats: the next ``count``, a random ``probability``, or all (C19).

        Dispatches keep flowing. With neither argument every ACK is dropped.
        """
        conns = self._targets("drop_acks", session_id, count=count, probability=probability)
        for conn in conns:
            if count is not None:
                conn.ack_drop_next = count
            elif probability is not None:
                conn.ack_drop_probability = probability
            else:
                conn.ack_drop_all = True
        return len(conns)

    def delay_acks(self, seconds: float, *, session_id: str | None = None) -> int:
        """ACK every heartbeat ``seconds`` late (C19)."""
        conns = self._targets("delay_acks", session_id, seconds=seconds)
        for conn in conns:
            conn.ack_delay_s = seconds
        return len(conns)

    def restore_acks(self, *, session_id: str | None = None) -> int:
        """Undo :meth:`drop_acks` and :meth:`delay_acks`."""
        conns = self._targets("restore_acks", session_id)
        for conn in conns:
            conn.clear_ack_faults()
        return len(conns)

    def request_heartbeat(self, *, session_id: str | None = None) -> int:
        """Send op 1; the next heartbeat's log record carries ``requested_latency`` (C21)."""
        conns = self._targets("request_heartbeat", session_id)
        for conn in conns:
            conn.heartbeat_requested_at = self._hub.now()
            conn.send_payload(Op.HEARTBEAT, None)
        return len(conns)

    # next connections and READY ----------------------------------------------------------

    def next_connection(
        self,
        *,
        hello_delay_s: float | None = None,
        no_hello: bool = False,
        reconnect_instead_of_hello: bool = False,
        ready_delay_s: float | None = None,
        hold_ready: bool = False,
        close_code: int | None = None,
        count: int = 1,
    ) -> None:
        """Script the next ``count`` new connections (B11, D28); see ConnectionScript."""
        script = ConnectionScript(
            hello_delay_s=hello_delay_s,
            no_hello=no_hello,
            reconnect_instead_of_hello=reconnect_instead_of_hello,
            ready_delay_s=ready_delay_s,
            hold_ready=hold_ready,
            close_code=close_code,
            count=count,
        )
        self._hub.scripts.append(script)
        self._hub.log.add("fault", name="next_connection", script=script.__dict__.copy())

    def clear_next_connection(self) -> None:
        """Forget every pending next-connection script."""
        self._hub.scripts.clear()
        self._hub.log.add("fault", name="clear_next_connection")

    def release_ready(self, *, conn_id: int | None = None) -> int:
        """Send the READY held by ``next_connection(hold_ready=True)`` (all, or one conn)."""
        released = 0
        for conn in list(self._hub.connections.values()):
            if conn.ready_gate is not None and conn_id in (None, conn.id):
                conn.ready_gate.set()
                released += 1
        self._hub.log.add("fault", conn_id=conn_id, name="release_ready", released=released)
        return released

    # guilds ------------------------------------------------------------------------------

    def guild_outage(self, guild_id: int | str, *, mode: str = "delete", now: bool = False) -> int:
        """Put a guild in outage (D26).

        Args:
            guild_id: the guild.
            mode: "delete" (GUILD_DELETE unavailable instead of GUILD_CREATE in the guild
                stream) or "create_unavailable" (GUILD_CREATE ``{id, unavailable: true}``).
            now: also send ``GUILD_DELETE {id, unavailable: true}`` to live sessions.

        Returns:
            Sessions that got the mid-session GUILD_DELETE (0 unless ``now``).

        Raises:
            ValueError: unknown mode.
        """
        if mode not in ("delete", "create_unavailable"):
            raise ValueError(f"unknown outage mode {mode!r}")
        gid = int(guild_id)
        self._hub.outages[gid] = mode
        self._hub.log.add("fault", name="guild_outage", guild_id=str(gid), mode=mode, now=now)
        if now:
            return self._hub.dispatch("GUILD_DELETE", unavailable_guild(gid), gid)
        return 0

    def guild_recover(self, guild_id: int | str, *, send: bool = True) -> int:
        """End a guild's outage; with ``send``, stream its full GUILD_CREATE now (D26)."""
        gid = int(guild_id)
        self._hub.outages.pop(gid, None)
        self._hub.never_stream.discard(gid)
        self._hub.log.add("fault", name="guild_recover", guild_id=str(gid), send=send)
        if not send or gid not in self._hub.world.guilds:
            return 0
        return self._hub.dispatch_built(
            "GUILD_CREATE", lambda s: self._hub.guild_create_for(s, gid), gid
        )

    def never_stream(self, guild_id: int | str, enabled: bool = True) -> None:
        """Leave a guild out of every guild stream (D27) until disabled or recovered."""
        gid = int(guild_id)
        if enabled:
            self._hub.never_stream.add(gid)
        else:
            self._hub.never_stream.discard(gid)
        self._hub.log.add("fault", name="never_stream", guild_id=str(gid), enabled=enabled)

    def member_chunks(
        self, *, after: int = 1, pause_s: float | None = None, cut: bool = False, count: int = 1
    ) -> None:
        """Answer the next ``count`` member requests (op 8) badly (spec 14 F39): send
        ``after`` chunks, then pause ``pause_s`` seconds before the rest, or (``cut``) never
        send the rest."""
        fault = ChunkFault(after=max(0, after), pause_s=pause_s, cut=cut, count=max(1, count))
        self._hub.chunk_faults.append(fault)
        self._hub.log.add(
            "fault", name="member_chunks", after=after, pause_s=pause_s, cut=cut, count=count
        )

    # malformed and unusual frames --------------------------------------------------------

    def send_raw(
        self,
        payload: Any,
        *,
        session_id: str | None = None,
        binary: bool | None = None,
        encode: bool = True,
    ) -> int:
        """Send an arbitrary payload (a JSON value, or str/bytes as is) to the client.

        Args:
            payload: a dict/list (JSON-encoded) or the exact str/bytes to send.
            session_id: target one session's connection.
            binary: force a binary or text frame (default: what the compression implies).
            encode: apply the connection's transport compression.
        """
        body = payload if isinstance(payload, (bytes, str)) else encode_json(payload)
        conns = self._targets("send_raw", session_id, size=len(body))
        for conn in conns:
            conn.send_raw(body, binary=binary, encode=encode)
        return len(conns)

    def unknown_opcode(self, op: int = 99, d: Any = None, *, session_id: str | None = None) -> int:
        """Send an envelope with an opcode the client does not know (E33)."""
        conns = self._targets("unknown_opcode", session_id, op=op)
        for conn in conns:
            conn.send_payload(op, d)
        return len(conns)

    def malformed_frame(self, *, session_id: str | None = None) -> int:
        """Send a frame that is not valid JSON (after decompression)."""
        conns = self._targets("malformed_frame", session_id)
        for conn in conns:
            conn.send_raw(b'{"op": 0, "t": "MESSAGE_CREATE", "d": {"broken": ')
        return len(conns)

    def corrupt_zlib(self, *, session_id: str | None = None) -> int:
        """Send bytes that no inflater accepts, ending in the sync-flush suffix (binary)."""
        conns = self._targets("corrupt_zlib", session_id)
        for conn in conns:
            conn.send_raw(b"\xff\xfe\xfd\xfc\x00corrupt" + ZLIB_SUFFIX, binary=True, encode=False)
        return len(conns)

    def split_next(
        self,
        parts: int = 3,
        *,
        payloads: int = 1,
        mode: str = "messages",
        session_id: str | None = None,
    ) -> int:
        """Split each of the next ``payloads`` payloads into ``parts`` pieces (H51).

        ``mode="messages"``: with zlib-stream, separate binary WebSocket messages (no
        non-final piece ends in the suffix). ``mode="frames"`` (and always without
        zlib-stream): one WebSocket message in ``parts`` continuation frames.
        """
        conns = self._targets("split_next", session_id, parts=parts, payloads=payloads, mode=mode)
        for conn in conns:
            conn.split_next.extend([(parts, mode)] * payloads)
        return len(conns)

    def trickle_next(
        self,
        chunk_bytes: int = 1,
        interval_s: float = 0.001,
        *,
        payloads: int = 1,
        session_id: str | None = None,
    ) -> int:
        """Write the next ``payloads`` frames to TCP ``chunk_bytes`` at a time (H51)."""
        conns = self._targets("trickle_next", session_id, chunk_bytes=chunk_bytes)
        for conn in conns:
            conn.trickle = TrickleSpec(chunk_bytes, interval_s, payloads)
        return len(conns)

    def oversized(
        self,
        size: int = 1_200_000,
        *,
        event: str = "EMULATOR_OVERSIZED",
        session_id: str | None = None,
    ) -> int:
        """Dispatch a payload of about ``size`` bytes (> 1 MiB by default) (H51)."""
        conns = self._targets("oversized", session_id, size=size)
        for conn in conns:
            if conn.session is not None:
                self._hub.deliver(conn.session, event, {"padding": "x" * size})
        return len(conns)

    def unknown_fields(self, enabled: bool = True, *, session_id: str | None = None) -> int:
        """Add an unknown key to every envelope sent from now on (E33)."""
        conns = self._targets("unknown_fields", session_id, enabled=enabled)
        for conn in conns:
            conn.unknown_fields = enabled
        return len(conns)

    def expire_session(self, session_id: str | None = None, *, include_active: bool = False) -> int:
        """Expire resumable sessions now (all, or one): a later RESUME gets op 9 ``false`` (G42).

        Args:
            session_id: only this session (default: every session).
            include_active: also end sessions that have a live socket, by sending that socket
                op 9 ``false`` (spec 2.11: "it has invalidated an active session").

        Returns:
            How many sessions were invalidated.
        """
        expired = 0
        for session in list(self._hub.sessions.values()):
            if session_id not in (None, session.id):
                continue
            if session.state is SessionState.DETACHED:
                self._hub.invalidate(session, "expired by fault")
                expired += 1
            elif session.state is SessionState.ACTIVE and include_active:
                if session.connection is not None:
                    self._hub.invalid_session(session.connection, False)
                else:
                    self._hub.invalidate(session, "expired by fault")
                expired += 1
        self._hub.log.add("fault", session_id=session_id, name="expire_session", expired=expired)
        return expired
