"""Client requests after authentication: ops 3, 4, 8, 31 and 43 (spec 2.6-2.16, 14 E34-F38).

Each handler answers only the session on the socket it came from. A payload that is
structurally wrong is returned as a :class:`~tether.emulator.rules.Rejection` for the
driver to close with; everything else is answered (or deliberately ignored) and logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

from tether.emulator import rules
from tether.emulator.connection import Connection
from tether.emulator.hub import ChunkFault, Hub
from tether.emulator.payloads import member_payload, voice_state_payload
from tether.emulator.sessions import Session, SessionState
from tether.emulator.world import CHANNEL_VOICE, Guild, Member
from tether.wire.intents import Intents
from tether.wire.opcodes import Op

__all__ = ["RequestHandlers"]

#: Snowflakes shorter than this many digits come back as integers in ``not_found`` (2.10).
_SNOWFLAKE_DIGITS = 17
_MAX_QUERY_RESULTS = 100


class RequestHandlers:
    """Answers the non-handshake opcodes of one connection.

    Args:
        hub: the emulator's shared state.
        conn: the connection the requests arrive on.
    """

    def __init__(self, hub: Hub, conn: Connection) -> None:
        self.hub = hub
        self.conn = conn
        self._presence_times: list[float] = []

    def handle(self, op: int, d: Any) -> rules.Rejection | None:
        """Handle one authenticated request; returns a rejection to close with, or None."""
        session = self.conn.session
        if session is None:
            self.hub.log.add("request_ignored", conn_id=self.conn.id, op=op, reason="no session")
            return None
        if op == Op.PRESENCE_UPDATE:
            self._presence(d)
        elif op == Op.VOICE_STATE_UPDATE:
            self._voice_state(session, d)
        elif op == Op.REQUEST_GUILD_MEMBERS:
            return self._members(session, d)
        elif op == Op.REQUEST_SOUNDBOARD_SOUNDS:
            self._soundboard(session, d)
        elif op == Op.REQUEST_CHANNEL_INFO:
            self._channel_info(session, d)
        return None

    def _reply(self, session: Session, t: str, d: Any) -> None:
        self.hub.deliver(session, t, d)

    def _presence(self, d: Any) -> None:
        """Op 3: accepted and logged; over 5 per 20 s it is ignored (spec 6.5)."""
        now, config = self.hub.now(), self.hub.config
        times = [t for t in self._presence_times if t > now - config.presence_update_window_s]
        limited = len(times) >= config.presence_update_limit
        if not limited:
            times.append(now)
        self._presence_times = times
        self.hub.log.add("presence_update", conn_id=self.conn.id, limited=limited, d=d)

    def _voice_state(self, session: Session, d: Any) -> None:
        """Op 4: VOICE_STATE_UPDATE for the bot, then VOICE_SERVER_UPDATE (spec 2.7)."""
        world = self.hub.world
        guild_id = _int(d.get("guild_id")) if isinstance(d, dict) else None
        guild = world.guilds.get(guild_id) if guild_id is not None else None
        if guild is None or not isinstance(d, dict):
            self.hub.log.add("voice_state_ignored", conn_id=self.conn.id, d=d)
            return
        member = guild.members.get(world.bot.id)
        channel_id = _int(d.get("channel_id"))
        if member is None:
            return
        member.voice_channel_id = channel_id
        state = voice_state_payload(member, guild.id)
        state.update(
            session_id=session.id,
            self_mute=bool(d.get("self_mute")),
            self_deaf=bool(d.get("self_deaf")),
        )
        self._reply(session, "VOICE_STATE_UPDATE", state)
        if channel_id is not None:
            host = self.hub.gateway_url.removeprefix("ws://").rstrip("/")
            self._reply(
                session,
                "VOICE_SERVER_UPDATE",
                {"token": f"voice-{session.id[:8]}", "guild_id": str(guild.id), "endpoint": host},
            )

    def _members(self, session: Session, d: Any) -> rules.Rejection | None:
        """Op 8: GUILD_MEMBERS_CHUNK replies (spec 2.10, 10.7, 14 F36-F38)."""
        request = rules.parse_request_members(d)
        if isinstance(request, rules.Rejection):
            return request
        hub = self.hub
        guild = hub.world.guilds.get(request.guild_id)
        if guild is None:
            hub.log.add("members_ignored", conn_id=self.conn.id, reason="unknown guild")
            return None
        full = request.query == "" and request.limit == 0
        if full and not session.intents & Intents.GUILD_MEMBERS:
            hub.log.add("members_ignored", conn_id=self.conn.id, reason="no GUILD_MEMBERS")
            return None
        if full and self._full_request_limited(session, request):
            return None
        found, not_found = _select_members(guild, request)
        with_presences = request.presences and bool(session.intents & Intents.GUILD_PRESENCES)
        size = max(1, hub.config.member_chunk_size)
        count = max(1, -(-len(found) // size))
        chunks = (
            self._chunk(guild, request, found[i * size : (i + 1) * size], index=i, count=count,
                        not_found=not_found if i == 0 else [], with_presences=with_presences)
            for i in range(count)
        )  # fmt: skip
        fault = hub.take_chunk_fault()
        if count == 1 and fault is None and hub.config.member_chunk_delay_s <= 0:
            for payload in chunks:
                self._reply(session, "GUILD_MEMBERS_CHUNK", payload)
        else:  # several chunks: sent from a task that lets heartbeats through between them
            hub.spawn(
                self._send_chunks(session, chunks, fault),
                f"emulator member chunks (conn {self.conn.id})",
            )
        hub.log.add(
            "members_chunked", conn_id=self.conn.id, guild_id=str(guild.id), chunks=count,
            nonce=request.nonce, fault=None if fault is None else dataclasses.asdict(fault),
        )  # fmt: skip
        return None

    @staticmethod
    def _chunk(
        guild: Guild,
        request: rules.MembersRequest,
        members: list[Member],
        *,
        index: int,
        count: int,
        not_found: list[int | str],
        with_presences: bool,
    ) -> dict[str, Any]:
        """One GUILD_MEMBERS_CHUNK ``d`` (spec 10.7), built only when it is sent."""
        payload: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [member_payload(m) for m in members],
            "chunk_index": index,
            "chunk_count": count,
        }
        if not_found:
            payload["not_found"] = not_found
        if with_presences:
            payload["presences"] = [
                {
                    "user": {"id": str(m.user.id)},
                    "status": m.status,
                    "activities": [],
                    "client_status": {"desktop": m.status},
                }
                for m in members
                if m.status != "offline"
            ]
        if request.nonce is not None:
            payload["nonce"] = request.nonce
        return payload

    async def _send_chunks(
        self, session: Session, chunks: Iterator[dict[str, Any]], fault: ChunkFault | None
    ) -> None:
        """Send chunks with the configured delay and fault: pause, or cut half-way (F39)."""
        delay = self.hub.config.member_chunk_delay_s
        for index, payload in enumerate(chunks):
            if fault is not None and index == fault.after:
                self.hub.log.add(
                    "fault", conn_id=self.conn.id, name="member_chunks",
                    cut=fault.cut, pause_s=fault.pause_s, after=index,
                )  # fmt: skip
                if fault.cut:
                    return
                if fault.pause_s:
                    await asyncio.sleep(fault.pause_s)
            elif index:
                await asyncio.sleep(delay)
            if session.state is SessionState.INVALID:
                return
            self._reply(session, "GUILD_MEMBERS_CHUNK", payload)

    def _full_request_limited(self, session: Session, request: rules.MembersRequest) -> bool:
        """One full-list request per guild per window; a repeat gets RATE_LIMITED (2.16)."""
        hub = self.hub
        now, window = hub.now(), hub.config.member_request_window_s
        last = hub.member_requests.get(request.guild_id)
        if window > 0 and last is not None and now - last < window:
            meta: dict[str, Any] = {"guild_id": str(request.guild_id)}
            if request.nonce is not None:
                meta["nonce"] = request.nonce
            retry = round(window - (now - last), 3)
            self._reply(session, "RATE_LIMITED", {"opcode": 8, "retry_after": retry, "meta": meta})
            return True
        hub.member_requests[request.guild_id] = now
        return False

    def _soundboard(self, session: Session, d: Any) -> None:
        """Op 31: one SOUNDBOARD_SOUNDS per known guild (spec 2.14)."""
        ids = d.get("guild_ids") if isinstance(d, dict) else None
        for raw in ids if isinstance(ids, list) else []:
            guild_id = _int(raw)
            if guild_id in self.hub.world.guilds:
                self._reply(
                    session,
                    "SOUNDBOARD_SOUNDS",
                    {"guild_id": str(guild_id), "soundboard_sounds": []},
                )

    def _channel_info(self, session: Session, d: Any) -> None:
        """Op 43: CHANNEL_INFO with the voice channels of the guild (spec 2.15)."""
        guild_id = _int(d.get("guild_id")) if isinstance(d, dict) else None
        guild = self.hub.world.guilds.get(guild_id) if guild_id is not None else None
        if guild is None:
            return
        channels = [
            {"id": str(c.id), "status": None, "voice_start_time": None}
            for c in guild.channels
            if c.type == CHANNEL_VOICE
        ]
        self._reply(session, "CHANNEL_INFO", {"guild_id": str(guild.id), "channels": channels})


def _int(raw: Any) -> int | None:
    try:
        return None if raw is None else int(raw)
    except (TypeError, ValueError):
        return None


def _select_members(
    guild: Guild, request: rules.MembersRequest
) -> tuple[list[Member], list[int | str]]:
    """Members matching a request, and the requested ids that are not members."""
    if request.user_ids is not None:
        found: list[Member] = []
        missing: list[int | str] = []
        for raw in request.user_ids:
            member = guild.members.get(_int(raw) or -1)
            if member is not None:
                found.append(member)
            else:
                missing.append(int(raw) if raw.isdigit() and len(raw) < _SNOWFLAKE_DIGITS else raw)
        return found, missing
    prefix = (request.query or "").lower()
    matches = [
        m
        for m in guild.members.values()
        if m.user.username.lower().startswith(prefix) or (m.nick or "").lower().startswith(prefix)
    ]
    if prefix or request.limit:
        matches = matches[: min(request.limit or _MAX_QUERY_RESULTS, _MAX_QUERY_RESULTS)]
    return matches, []
