"""``tether.Client``: the connection manager with the guild cache wired in as a consumer.

The runtime's :class:`~tether.runtime.client.Client` knows nothing of the cache (STYLE
habit 8, and an import rule). This module composes the two: ``client.cache`` is a
:class:`~tether.cache.Cache` that the dispatcher feeds synchronously with every event
*before* handlers see it, on the user's loop, so handlers always read a cache that already
includes their event. It adds what needs both sides:

- :meth:`Client.request_members`: gateway op 8 sent through the shard, answered by chunks
  that the cache gathers by nonce (spec 2.10, 10.7), with RATE_LIMITED and a timeout;
- chunking at startup (``chunk_guilds_at_startup=True``): when a shard's guild stream is
  complete, large guilds are chunked before its ``Ready`` reaches handlers, bounded by
  ``chunk_timeout``;
- :meth:`Client.guild_progress`: per shard, "received X of N guilds" while the stream runs.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tether.cache import Cache, CacheFlags, MembersRateLimited, MembersResult
from tether.errors import (
    ConfigError,
    MemberRequestError,
    MemberRequestRateLimited,
    MemberRequestTimeout,
)
from tether.gateway.events import Connected, Dispatch, Event, Ready
from tether.runtime.client import Client as _RuntimeClient
from tether.wire.intents import Intents
from tether.wire.opcodes import Op

__all__ = ["Client", "GuildStreamProgress"]

log = logging.getLogger("tether.client")

#: Nonces are at most 32 bytes (spec 2.10); ours are ``t<counter>.<random>``.
_NONCE_RANDOM_BITS = 48
_MAX_USER_IDS = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildStreamProgress:
    """How far one shard's guild stream got (spec 4.5).

    Attributes:
        shard_id: the shard.
        expected: guilds listed in READY.
        received: of those, how many arrived (GUILD_CREATE, or GUILD_DELETE for an outage).
        pending: how many have not arrived yet.
        unavailable: guilds known unavailable right now.
        complete: the stream ended (``Ready`` was produced).
    """

    shard_id: int
    expected: int
    received: int
    pending: int
    unavailable: int
    complete: bool


class Client(_RuntimeClient):
    """A Discord gateway client that keeps every shard connected, with a guild cache.

    Takes every argument of :class:`tether.runtime.client.Client`, plus:

    Args:
        cache: a cache to feed (default: a new :class:`Cache` built from the next three).
        cache_flags: the parts to keep (:class:`CacheFlags`; parts whose intent is not
            asked for stay empty, see ``cache.explain()``).
        message_cache_size: messages kept (oldest dropped first; 0: none).
        chunk_guilds_at_startup: after a shard's guild stream, ask for the full member list
            of every large guild (needs GUILD_MEMBERS) before its ``Ready`` reaches handlers.
        chunk_timeout: the most that ``Ready`` waits for that chunking, in seconds.

    Attributes:
        cache: the :class:`Cache`, up to date with every event handlers have been given.
    """

    def __init__(
        self,
        token: str,
        *,
        cache: Cache | None = None,
        cache_flags: CacheFlags = CacheFlags.ALL,
        message_cache_size: int = 1000,
        chunk_guilds_at_startup: bool = False,
        chunk_timeout: float = 60.0,
        **options: Any,
    ) -> None:
        super().__init__(token, **options)
        if chunk_timeout < 0:
            raise ConfigError("chunk_timeout must not be negative")
        if cache is None:
            cache = Cache(
                cache_flags, intents=int(self.intents), message_cache_size=message_cache_size
            )
        self.cache = cache
        dispatcher = self._dispatcher
        dispatcher.consumers[:0] = [self.cache.update, self._settle_member_requests]
        dispatcher.gate = self._gate
        self._chunk_at_startup = chunk_guilds_at_startup
        self._chunk_timeout = chunk_timeout
        self._member_waiters: dict[str, asyncio.Future[MembersResult]] = {}
        self._member_sessions: dict[str, tuple[int, str | None]] = {}
        self._nonces = itertools.count(1)
        self._chunk_tasks: set[asyncio.Task[None]] = set()
        self._ready_held = 0
        self._chunking_done = asyncio.Event()
        self._chunking_done.set()

    # ------------------------------------------------------------------ progress
    def guild_progress(self) -> dict[int, GuildStreamProgress]:
        """Per shard, how far its guild stream got ("received X of N guilds")."""
        progress = {}
        for shard_id, session in list(self.sessions.items()):
            stream = session.stream
            progress[shard_id] = GuildStreamProgress(
                shard_id=shard_id,
                expected=stream.expected,
                received=stream.received,
                pending=len(stream.pending),
                unavailable=len(stream.unavailable),
                complete=stream.complete,
            )
        return progress

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        """Wait until every shard is ready (guild stream complete) and connected, and,
        with ``chunk_guilds_at_startup``, until the startup chunking ended.

        Raises:
            TimeoutError: not ready within ``timeout``.
            GatewayError: the client stopped with a fatal error.
        """
        async with asyncio.timeout(timeout):
            await super().wait_until_ready()
            await asyncio.sleep(0)  # let a Ready that just arrived reach the gate
            await self._chunking_done.wait()

    # ------------------------------------------------------------------ member requests
    async def request_members(
        self,
        guild_id: int | str,
        *,
        query: str | None = None,
        limit: int = 0,
        user_ids: Iterable[int | str] | None = None,
        presences: bool = False,
        timeout: float = 30.0,
    ) -> MembersResult:
        """Ask the gateway for members of a guild (op 8) and wait for every chunk.

        With neither ``query`` nor ``user_ids`` it asks for every member (``query=""``,
        ``limit=0``), which needs the GUILD_MEMBERS intent. The members are also kept in
        the cache when members are kept.

        Args:
            guild_id: the guild.
            query: a username prefix ("" for everyone).
            limit: the most members to return (0 with ``query=""``: all).
            user_ids: specific users (at most 100); unknown ones come back in ``not_found``.
            presences: also return presences (needs GUILD_PRESENCES).
            timeout: seconds to wait for the whole answer.

        Returns:
            The members, ``not_found`` ids and presences (:class:`MembersResult`).

        Raises:
            MemberRequestTimeout: no complete answer within ``timeout`` (the gateway may
                never answer; the error says how many chunks arrived).
            MemberRequestRateLimited: the gateway answered RATE_LIMITED (``retry_after``).
            MemberRequestError: the shard's session was replaced before the answer came.
            ConfigError: more than 100 ``user_ids``, or both ``query`` and ``user_ids``.
            InvalidState: the guild's shard is not running.
        """
        gid = int(guild_id)
        d: dict[str, Any] = {"guild_id": str(gid), "presences": bool(presences)}
        if user_ids is not None:
            if query is not None:
                raise ConfigError("give query or user_ids, not both")
            ids = [str(int(u)) for u in user_ids]
            if not 1 <= len(ids) <= _MAX_USER_IDS:
                raise ConfigError("user_ids must name between 1 and 100 users")
            d["user_ids"] = ids
        else:
            d["query"] = query or ""
            d["limit"] = max(0, int(limit))
        nonce = self._new_nonce()
        d["nonce"] = nonce
        future: asyncio.Future[MembersResult] = asyncio.get_running_loop().create_future()
        requests = self.cache.member_requests
        shard_id = self.shard_for(gid)
        session = self.sessions.get(shard_id)
        requests.open(gid, nonce)
        self._member_waiters[nonce] = future
        self._member_sessions[nonce] = (shard_id, session.session_id if session else None)
        try:
            async with asyncio.timeout(timeout):
                await self.send(Op.REQUEST_GUILD_MEMBERS, d, shard_id=shard_id)
                return await future
        except TimeoutError:
            progress = requests.progress(nonce)
            raise MemberRequestTimeout(
                guild_id=gid,
                nonce=nonce,
                timeout=timeout,
                chunks_received=progress.chunks_received if progress else 0,
                chunk_count=progress.chunk_count if progress else None,
                members_received=progress.members_received if progress else 0,
            ) from None
        finally:
            self._member_waiters.pop(nonce, None)
            self._member_sessions.pop(nonce, None)
            requests.cancel(nonce)

    def _new_nonce(self) -> str:
        return f"t{next(self._nonces):x}.{self._rng.getrandbits(_NONCE_RANDOM_BITS):x}"

    def _settle_member_requests(self, event: Event) -> None:
        """Consumer (after the cache): resolve the requests the last chunk finished, and
        fail those of a session that was replaced (their chunks will never come)."""
        if isinstance(event, Connected) and not event.resumed and self._member_sessions:
            self._fail_lost_requests(event)
            return
        if not isinstance(event, Dispatch) or event.name not in (
            "GUILD_MEMBERS_CHUNK",
            "RATE_LIMITED",
        ):
            return
        for outcome in self.cache.member_requests.take():
            future = self._member_waiters.get(outcome.nonce)
            if future is None or future.done():
                continue
            if isinstance(outcome, MembersRateLimited):
                future.set_exception(
                    MemberRequestRateLimited(
                        guild_id=outcome.guild_id,
                        nonce=outcome.nonce,
                        retry_after=outcome.retry_after,
                    )
                )
            else:
                future.set_result(outcome)

    def _fail_lost_requests(self, event: Connected) -> None:
        for nonce, (shard_id, session_id) in list(self._member_sessions.items()):
            future = self._member_waiters.get(nonce)
            if shard_id != event.shard_id or session_id == event.session_id or future is None:
                continue
            if not future.done():
                progress = self.cache.member_requests.cancel(nonce)
                guild_id = progress.guild_id if progress is not None else 0
                future.set_exception(
                    MemberRequestError(
                        f"member request {nonce}: its session ended before the answer "
                        "(chunks are not replayed to a new session); ask again",
                        guild_id=guild_id,
                        nonce=nonce,
                    )
                )

    # ------------------------------------------------------------------ chunk at startup
    def _gate(self, event: Event) -> bool:
        """The dispatcher's gate: only a ``Ready`` may be held (:meth:`_hold_ready`)."""
        return isinstance(event, Ready) and self._hold_ready(event)

    def _hold_ready(self, event: Ready) -> bool:
        """The gate (user's loop, in event order): hold ``Ready`` while large guilds of its
        shard are chunked. Every GUILD_CREATE before it is in the cache by now."""
        if not self._chunk_at_startup:
            return False
        if not self.intents & Intents.GUILD_MEMBERS:
            log.warning("chunk_guilds_at_startup needs the GUILD_MEMBERS intent; skipped")
            return False
        targets = [
            guild.id
            for guild in self.cache.guilds.values()
            if guild.shard_id == event.shard_id
            and guild.large
            and not guild.unavailable
            and len(guild.members) < guild.member_count
        ]
        if not targets:
            return False
        self._ready_held += 1
        self._chunking_done.clear()
        task = asyncio.create_task(
            self._chunk_then_release(event, targets),
            name=f"tether startup chunking (shard {event.shard_id})",
        )
        self._chunk_tasks.add(task)
        task.add_done_callback(self._chunk_tasks.discard)
        return True

    async def _chunk_then_release(self, event: Ready, guild_ids: list[int]) -> None:
        log.info("shard %d: chunking %d large guilds before Ready", event.shard_id, len(guild_ids))
        try:
            async with asyncio.timeout(self._chunk_timeout):
                results = await asyncio.gather(
                    *(self.request_members(g, timeout=self._chunk_timeout) for g in guild_ids),
                    return_exceptions=True,
                )
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                log.warning("shard %d: %d startup chunk requests failed: %s",
                            event.shard_id, len(failed), failed[0])  # fmt: skip
        except TimeoutError:
            log.warning(
                "shard %d: startup chunking took over %g s; Ready goes out without it",
                event.shard_id,
                self._chunk_timeout,
            )
        except asyncio.CancelledError:  # stop(): the Ready is dropped with the session
            self._chunk_ended()
            raise
        self._dispatcher.release(event)
        self._chunk_ended()

    def _chunk_ended(self) -> None:
        self._ready_held -= 1
        if self._ready_held == 0:
            self._chunking_done.set()

    async def stop(self, *, resumable: bool = False, timeout: float = 10.0) -> None:
        """Close every socket gracefully and return once they are closed (startup chunking
        still running is abandoned)."""
        for task in list(self._chunk_tasks):
            task.cancel()
        if self._chunk_tasks:
            await asyncio.gather(*self._chunk_tasks, return_exceptions=True)
        await super().stop(resumable=resumable, timeout=timeout)
