"""The connection manager: the I/O side of a Client.

It runs on the gateway's event loop (the I/O thread's, by default) and owns the HTTP
session, ``/gateway/bot``, the shard plan (``shards="auto"``, a count, or a subset of ids),
identify pacing, the session-start budget, the session store writer and one supervisor task
per shard. The Client talks to it only through :meth:`Manager.run`, :meth:`Manager.stop`
and the callbacks it passes in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from tether.errors import ConfigError, GatewayError, HTTPError, ShardingRequired
from tether.gateway.backoff import Backoff
from tether.gateway.protocol import ProtocolConfig
from tether.gateway.session import Session, SessionSnapshot
from tether.runtime.clock import loop_time
from tether.runtime.dispatcher import Dispatcher
from tether.runtime.identify import IdentifyQueue, LocalIdentifyQueue, SessionBudget
from tether.runtime.shard import Shard
from tether.runtime.store import SessionRecord, SessionStore, StoreState
from tether.runtime.transport import check_url, get_gateway_bot
from tether.token import Token

__all__ = ["Manager", "ShardPlan"]

log = logging.getLogger("tether.runtime")

ShardPlan = int | str | None
_MAX_REPLANS = 3


class Manager:
    """Keeps a set of shards connected (see the module docstring).

    Args:
        token: the bot token.
        api_url: REST base for ``/gateway/bot``.
        gateway_url: a fixed gateway URL (skips ``/gateway/bot`` for connecting).
        plan: None (one unsharded session), a shard count, or ``"auto"``.
        shard_ids: the subset of shard ids this process runs (None: all of them).
        protocol: keyword arguments of :class:`ProtocolConfig` besides token/intents/shard.
        dispatcher: where events go (thread-safe put, backpressure).
        sessions: sessions per shard id, kept across restarts of the client.
        on_state: called (on this loop) whenever a shard's state changes.
    """

    def __init__(
        self,
        *,
        token: Token,
        intents: int,
        api_url: str,
        gateway_url: str | None,
        plan: ShardPlan,
        shard_ids: Sequence[int] | None,
        protocol: dict[str, Any],
        dispatcher: Dispatcher,
        sessions: dict[int, Session],
        on_state: Callable[[], None],
        rng: random.Random,
        backoff: dict[str, float],
        connect_timeout: float,
        close_timeout: float,
        identify_queue: IdentifyQueue | None,
        identify_window: float,
        budget: SessionBudget,
        allow_low_budget: bool,
        store: SessionStore | None,
        store_interval: float,
    ) -> None:
        self._token = token
        self._intents = intents
        self.api_url = api_url
        self.gateway_url = gateway_url
        self.plan = plan
        self.shard_ids = list(shard_ids) if shard_ids is not None else None
        self._protocol = protocol
        self._dispatcher = dispatcher
        self.sessions = sessions
        self._on_state = on_state
        self._rng = rng
        self._backoff = backoff
        self._connect_timeout = connect_timeout
        self._close_timeout = close_timeout
        self._local_queue = LocalIdentifyQueue(window=identify_window)
        self._queue: IdentifyQueue = identify_queue or self._local_queue
        self.budget = budget
        self._allow_low_budget = allow_low_budget
        self._store = store
        self._store_interval = store_interval
        self.shards: dict[int, Shard] = {}
        self.shard_count: int | None = None
        self.gateway_bot: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._budget_checked = False
        self._replans = 0
        self._restored_count: dict[int, int] = {}

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Plan, start every shard and supervise them until they all end.

        Fatal errors end up in :attr:`error` (never raised).
        """
        self._http = aiohttp.ClientSession()
        writer: asyncio.Task[None] | None = None
        try:
            await self._restore()
            while not self._stopping:
                count = await self._plan()
                self._start_shards(count)
                if self._store is not None and writer is None:
                    writer = asyncio.create_task(self._store_loop(), name="tether session store")
                results = await asyncio.gather(*self._tasks, return_exceptions=True)
                errors = [r for r in results if isinstance(r, BaseException)]
                replan = [e for e in errors if isinstance(e, ShardingRequired)]
                if replan and self.plan == "auto" and self._replans < _MAX_REPLANS:
                    self._replans += 1
                    log.warning("sharding required: planning again from /gateway/bot")
                    self.gateway_bot = None
                    self.error = None
                    continue
                break
        except GatewayError as exc:
            self.error = exc
            log.error("%s", exc)
        finally:
            if writer is not None:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
            await self._http.close()
            self._http = None

    def request_stop(self, *, resumable: bool) -> None:
        """Ask every shard to close (returns at once)."""
        self._stopping = True
        for shard in self.shards.values():
            shard.request_stop(resumable=resumable)

    async def stop(self, *, resumable: bool, timeout: float, runner: asyncio.Future[None]) -> None:
        """Close every socket, wait for ``runner`` (the task of :meth:`run`), save the store."""
        self.request_stop(resumable=resumable)
        done, _pending = await asyncio.wait({runner}, timeout=timeout)
        if not done:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        if self._store is not None:
            await self._store.save(self._store_state(keep_sessions=resumable))

    # ------------------------------------------------------------------ plan
    async def _plan(self) -> int | None:
        """The shard count: the given one, or ``/gateway/bot``'s recommendation."""
        if self.plan == "auto":
            data = await self._gateway_bot_retrying()
            count = data.get("shards")
            if not isinstance(count, int) or count < 1:
                raise HTTPError(200, 0, "GET /gateway/bot gave no usable shard count")
            return count
        return self.plan if isinstance(self.plan, int) else None

    def _start_shards(self, count: int | None) -> None:
        ids = self.shard_ids if self.shard_ids is not None else list(range(count or 1))
        if count is not None and any(not 0 <= sid < count for sid in ids):
            raise ConfigError(f"shard_ids {ids} are not all within 0..{count - 1}")
        for sid in ids:
            known = self._restored_count.pop(sid, self.shard_count)
            if known is not None and known != (count or 1):
                log.info("shard %d: shard count changed (%s -> %s); identifying", sid, known, count)
                self.sessions.pop(sid, None)  # a session of another shard count cannot resume
        self.shard_count = count
        self.shards = {}
        for sid in ids:
            config = ProtocolConfig(
                token=self._token,
                intents=self._intents,
                shard=(sid, count) if count is not None else None,
                **self._protocol,
            )
            shard = Shard(
                config,
                base_url=self.base_url,
                http=self._http,
                emit=self._dispatcher.put,
                emit_many=self._dispatcher.put_many,
                rng=self._rng,
                backoff=Backoff(**self._backoff),
                session=self.sessions.setdefault(sid, Session()),
                connect_timeout=self._connect_timeout,
                close_timeout=self._close_timeout,
                identify_gate=_Gate(self),
                flow=self._dispatcher,
            )
            shard.on_state = lambda _shard: self._on_state()
            shard.begin()
            self.shards[sid] = shard
        self._budget_checked = False
        self._tasks = [
            asyncio.create_task(self._supervise(shard), name=f"tether shard {sid}")
            for sid, shard in self.shards.items()
        ]
        self._on_state()

    async def _supervise(self, shard: Shard) -> None:
        try:
            await shard.run()
        except GatewayError as exc:
            if self.error is None:
                self.error = exc
            resumable = not isinstance(exc, ShardingRequired)
            for other in self.shards.values():
                if other is not shard:
                    other.request_stop(resumable=resumable)
            raise
        except Exception as exc:  # a bug: reported, never silent
            log.exception("shard %d: manager crashed", shard.shard_id)
            self.error = exc
            raise

    # ------------------------------------------------------------------ gateway/bot
    async def base_url(self) -> str:
        """The gateway URL to IDENTIFY at (fetching ``/gateway/bot`` once)."""
        if self.gateway_url is not None:
            return self.gateway_url
        data = await self._gateway_bot()
        return check_url(str(data["url"]), kind="ws")

    async def _gateway_bot(self) -> dict[str, Any]:
        if self.gateway_bot is None:
            assert self._http is not None
            data = await get_gateway_bot(self._http, self.api_url, self._token)
            limits = data.get("session_start_limit")
            if isinstance(limits, dict):
                self.budget.update(limits, loop_time())
                concurrency = limits.get("max_concurrency")
                if isinstance(concurrency, int) and concurrency > 0:
                    self._local_queue.max_concurrency = concurrency
            self.gateway_bot = data
        return self.gateway_bot

    async def _gateway_bot_retrying(self) -> dict[str, Any]:
        """``/gateway/bot`` with backoff on transport errors and 5xx (401 is fatal)."""
        backoff = Backoff(**self._backoff)
        while True:
            try:
                return await self._gateway_bot()
            except (aiohttp.ClientError, TimeoutError, OSError, HTTPError) as exc:
                if isinstance(exc, HTTPError) and exc.status < 500:
                    raise
                delay = max(0.2, backoff.next_delay(loop_time(), self._rng))
                log.warning("GET /gateway/bot failed (%r); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def acquire_identify(self, shard_id: int) -> None:
        """Budget check, then identify pacing (called by a shard before each IDENTIFY)."""
        if self.gateway_url is None:
            await self._gateway_bot()
        if not self._budget_checked:
            self._budget_checked = True
            needing = sum(1 for s in self.shards.values() if not s.session.resumable)
            self.budget.check_start(needing, override=self._allow_low_budget)
        await self._queue.acquire(shard_id)
        try:
            self.budget.take(shard_id, loop_time())
        except BaseException:
            self._queue.release(shard_id)
            raise

    # ------------------------------------------------------------------ store
    async def _restore(self) -> None:
        if self._store is None:
            return
        state = await self._store.load()
        for sid, record in state.sessions.items():
            session = self.sessions.get(sid)
            if session is not None and session.resumable:
                continue
            self.sessions[sid] = Session.restore(
                SessionSnapshot(
                    session_id=record.session_id, seq=record.seq, resume_url=record.resume_url
                )
            )
            self._dispatcher.delivered_session[sid] = record.session_id
            self._dispatcher.delivered_seq[sid] = record.seq
            self._restored_count[sid] = record.shard_count
        budget = state.budget
        if "remaining" in budget and "total" in budget:
            reset_at = budget.get("reset_at")
            limits: dict[str, object] = {
                "total": int(budget["total"]),
                "remaining": int(budget["remaining"]),
            }
            if reset_at is not None:
                limits["reset_after"] = max(0.0, (reset_at - time.time()) * 1000)
            self.budget.update(limits, loop_time())

    def _store_state(self, *, keep_sessions: bool) -> StoreState:
        """The state to persist: sessions only up to the seq handlers have been given."""
        state = StoreState()
        delivered_session = dict(self._dispatcher.delivered_session)
        delivered_seq = dict(self._dispatcher.delivered_seq)
        for sid, session in list(self.sessions.items()):
            seq = delivered_seq.get(sid)
            if (
                not keep_sessions
                or session.session_id is None
                or session.resume_url is None
                or delivered_session.get(sid) != session.session_id
                or seq is None
            ):
                continue
            state.sessions[sid] = SessionRecord(
                shard_id=sid,
                shard_count=self.shard_count or 1,
                session_id=session.session_id,
                seq=min(seq, session.seq or seq),
                resume_url=session.resume_url,
            )
        budget = self.budget
        if budget.total is not None and budget.remaining is not None:
            state.budget = {"total": budget.total, "remaining": budget.remaining}
            if budget.reset_at is not None:
                state.budget["reset_at"] = time.time() + (budget.reset_at - loop_time())
        return state

    async def _store_loop(self) -> None:
        """Write the store at most every ``store_interval`` seconds, only when it changed."""
        assert self._store is not None
        last: dict[str, Any] | None = None
        while True:
            await asyncio.sleep(self._store_interval)
            state = self._store_state(keep_sessions=True)
            snapshot = state.to_dict()
            if snapshot != last:
                with contextlib.suppress(OSError):
                    await self._store.save(state)
                last = snapshot


class _Gate:
    """What a shard calls before IDENTIFY: the manager's budget and pacing."""

    def __init__(self, manager: Manager) -> None:
        self._manager = manager

    async def acquire(self, shard_id: int) -> None:
        """See :meth:`Manager.acquire_identify`."""
        await self._manager.acquire_identify(shard_id)

    def identified(self, shard_id: int, now: float) -> None:
        """See :meth:`IdentifyQueue.identified`."""
        self._manager._queue.identified(shard_id, now)

    def release(self, shard_id: int) -> None:
        """See :meth:`IdentifyQueue.release`."""
        self._manager._queue.release(shard_id)
