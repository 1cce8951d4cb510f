"""The thin asyncio driver of the REST rate limiter: aiohttp requests, timers, typed errors.

:class:`Requester` runs every request through :class:`~tether.rest.ratelimit.RateLimiter`
following its drain contract: after each input (submit, answer, failure, cancel, timer)
it calls ``poll(now)``, wakes the granted waiters, and arms a single loop timer at
``next_deadline(now)``. It owns no task; a request's own coroutine does the sending.

Logging (logger ``tether.rest``): one DEBUG line per answer naming the route *template*
and the major parameter, never the concrete path (webhook and interaction paths hold a
token) and never a header (the Authorization header holds the bot token).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl

from tether.errors import (
    Forbidden,
    HTTPError,
    InteractionAlreadyResponded,
    InteractionTimedOut,
    InvalidState,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from tether.rest.ratelimit import Action, RateLimiter, ResponseInfo, Ticket, TicketState
from tether.rest.routes import CompiledRoute
from tether.token import Token
from tether.urls import USER_AGENT
from tether.wire.codec import DecodeError, decode_json, encode_json

__all__ = ["Requester", "RestStats", "error_for", "response_info"]

log = logging.getLogger("tether.rest")

_UNKNOWN_INTERACTION = 10062
_ALREADY_ACKNOWLEDGED = 40060


@dataclass(slots=True)
class RestStats:
    """Counters of one REST client (read them in tests, benchmarks and dashboards).

    Attributes:
        sent: requests written to the network (retries included).
        answers: answers per HTTP status.
        rate_limited: 429 answers, per scope (``user``, ``global``, ``shared``).
        retries: requests sent again after a 429, a 5xx or a transport failure.
        refused: requests the invalid-request guard refused without sending.
        transport_errors: sends that got no answer (connection error, timeout).
    """

    sent: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    refused: int = 0
    transport_errors: int = 0

    @property
    def too_many_requests(self) -> int:
        """How many 429 answers came back, whatever their scope."""
        return self.answers[429]


def _number(raw: str | None, kind: type[float] | type[int]) -> Any:
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        return None


def response_info(
    status: int, headers: Mapping[str, str], body: Any, *, wall_now: float
) -> ResponseInfo:
    """Read the rate-limit headers and the 429 body of an answer (spec 11.2, 11.3).

    Args:
        status: the HTTP status.
        headers: the answer's headers (a case-insensitive mapping, as aiohttp gives).
        body: the decoded JSON body (or anything else for non-JSON answers).
        wall_now: ``time.time()`` at the answer; converts ``X-RateLimit-Reset`` (epoch)
            when ``X-RateLimit-Reset-After`` is missing.
    """
    reset_after = _number(headers.get("X-RateLimit-Reset-After"), float)
    if reset_after is None:
        reset = _number(headers.get("X-RateLimit-Reset"), float)
        if reset is not None:
            reset_after = max(0.0, reset - wall_now)
    is_global = headers.get("X-RateLimit-Global", "").lower() == "true"
    retry_after = None
    code = None
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), int) else None
        if status == 429:
            retry_after = _number(str(body.get("retry_after")), float)
            is_global = is_global or body.get("global") is True
    if status == 429 and retry_after is None:
        retry_after = _number(headers.get("Retry-After"), float)
    return ResponseInfo(
        status=status,
        bucket=headers.get("X-RateLimit-Bucket") or None,
        limit=_number(headers.get("X-RateLimit-Limit"), int),
        remaining=_number(headers.get("X-RateLimit-Remaining"), int),
        reset_after=reset_after,
        retry_after=retry_after,
        scope=headers.get("X-RateLimit-Scope") or None,
        is_global=is_global,
        code=code,
    )


def error_for(status: int, body: Any, route: str) -> HTTPError:
    """The typed error for a non-2xx answer (spec 11.5)."""
    if isinstance(body, dict):
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, int) else 0
        message = str(body.get("message", ""))
        errors = body.get("errors")
    else:
        code, errors = 0, None
        text = body if isinstance(body, str) else ""
        message = " ".join(text.split())[:200] or "(no JSON body)"
    kind: type[HTTPError] = HTTPError
    if status == 401:
        kind = Unauthorized
    elif status == 403:
        kind = Forbidden
    elif status == 404:
        kind = InteractionTimedOut if code == _UNKNOWN_INTERACTION else NotFound
    elif code == _ALREADY_ACKNOWLEDGED:
        kind = InteractionAlreadyResponded
    elif status >= 500:
        kind = ServerError
    return kind(status, code, message, errors=errors, route=route)


class Requester:
    """Sends requests through one :class:`RateLimiter` over one aiohttp session.

    Args:
        token: the bot token (None: send no Authorization header at all).
        api_url: the REST base, e.g. ``https://discord.com/api/v10`` (already checked).
        limiter: the rate limiter (one per bot: buckets and the global limit are per bot).
        timeout: seconds for one attempt (connect + answer).
        session: an aiohttp session to use (default: one created and closed by this object).
    """

    def __init__(
        self,
        token: Token | None,
        api_url: str,
        *,
        limiter: RateLimiter,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.limiter = limiter
        self.timeout = timeout
        self.stats = RestStats()
        self._session = session
        self._own_session = session is None
        self._waiters: dict[Ticket, asyncio.Future[None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._token_refused = False

    async def close(self) -> None:
        """Close the session if this object created it (it is re-created on next use).

        Requests still waiting for their turn fail with ``InvalidState``.
        """
        waiting, self._waiters = self._waiters, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(InvalidState("the REST client was closed"))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        session, self._session = self._session, None
        if session is not None and self._own_session:
            await session.close()

    # ------------------------------------------------------------------ requests
    async def request(
        self,
        compiled: CompiledRoute,
        *,
        json: Any = None,
        query: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        """Send one request when its bucket and the global limit allow; retry as decided.

        Returns:
            The decoded JSON body (None for 204).

        Raises:
            HTTPError: a non-2xx answer (Unauthorized, Forbidden, NotFound, RateLimited,
                ServerError, ... by status and code).
            Unauthorized: also without sending, once the token was refused (a 401 to an
                authenticated request): every later one would fail the same way.
            InvalidRequestLimit: the invalid-request guard refused to send.
            InvalidState: the client was closed while the request waited for its turn.
            aiohttp.ClientError, TimeoutError: no answer (after retries, if idempotent).
        """
        loop = self._bind()
        route = compiled.route
        if auth and self._token_refused:
            raise Unauthorized(
                401, 0, "the token was refused by an earlier request (not sent)", route=route.key
            )
        ticket = self.limiter.submit(
            route.key,
            compiled.major,
            now=loop.time(),
            global_exempt=route.global_exempt,
            idempotent=route.idempotent,
        )
        try:
            while True:
                await self._granted(ticket)
                try:
                    status, headers, body = await self._send(compiled, json, query, auth)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.stats.transport_errors += 1
                    decision = self.limiter.fail(ticket, loop.time())
                    self._drain()
                    if decision.action is not Action.RETRY:
                        raise
                    self._retrying(compiled, f"{type(exc).__name__}", decision.delay)
                    continue
                info = response_info(status, headers, body, wall_now=time.time())
                decision = self.limiter.complete(ticket, info, loop.time())
                self._drain()
                self._account(compiled, info, decision.delay)
                if decision.action is Action.RETRY:
                    self._retrying(compiled, f"HTTP {status}", decision.delay)
                    continue
                if decision.action is Action.GIVE_UP:
                    raise RateLimited(
                        decision.delay,
                        scope=info.scope or ("global" if info.is_global else "user"),
                        is_global=info.is_global,
                        route=route.key,
                    )
                if status >= 300:
                    if status == 401 and auth and self._token is not None:
                        self._token_refused = True
                    raise error_for(status, body, route.key)
                return body
        finally:
            if ticket.state in (TicketState.QUEUED, TicketState.GRANTED):
                self.limiter.cancel(ticket, loop.time())
                self._drain()

    async def _granted(self, ticket: Ticket) -> None:
        if ticket.state is TicketState.QUEUED:
            assert self._loop is not None
            future = self._loop.create_future()
            self._waiters[ticket] = future
            try:
                self._drain()
                if ticket.state is TicketState.QUEUED:
                    await future
            finally:
                self._waiters.pop(ticket, None)
        if ticket.state is TicketState.REFUSED:
            self.stats.refused += 1
            assert ticket.error is not None
            raise ticket.error

    async def _send(
        self, compiled: CompiledRoute, json: Any, query: Mapping[str, str] | None, auth: bool
    ) -> tuple[int, Mapping[str, str], Any]:
        headers = {"User-Agent": USER_AGENT}
        if auth and self._token is not None:
            headers["Authorization"] = f"Bot {self._token.reveal()}"
        data = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            data = encode_json(json)
        url = yarl.URL(self.api_url + compiled.path, encoded=True)
        self.stats.sent += 1
        async with self._http().request(
            compiled.route.method,
            url,
            data=data,
            params=dict(query) if query else None,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            allow_redirects=False,
        ) as response:
            raw = await response.read()
            body: Any = None
            if raw:
                if response.content_type == "application/json":
                    try:
                        body = decode_json(raw)
                    except DecodeError:
                        body = raw.decode("utf-8", "replace")
                else:
                    body = raw.decode("utf-8", "replace")
            return response.status, response.headers, body

    # ------------------------------------------------------------------ drain contract
    def _drain(self, now: float | None = None) -> None:
        assert self._loop is not None
        now = self._loop.time() if now is None else now
        for ticket in self.limiter.poll(now):
            future = self._waiters.pop(ticket, None)
            if future is not None and not future.done():
                future.set_result(None)
        deadline = self.limiter.next_deadline(now)
        if self._timer is not None and (deadline is None or deadline != self._timer_at):
            self._timer.cancel()
            self._timer = None
        if deadline is not None and self._timer is None:
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        assert self._loop is not None
        self._timer = None
        # The loop runs a timer up to one clock tick early: it is due, so treat it as due.
        self._drain(max(self._loop.time(), self._timer_at))

    # ------------------------------------------------------------------ plumbing
    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and self._waiters:
                raise RuntimeError("a REST client is used from two event loops at once")
            self._loop = loop
            self._timer = None
        return loop

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    def _account(self, compiled: CompiledRoute, info: ResponseInfo, delay: float) -> None:
        self.stats.answers[info.status] += 1
        if info.status == 429:
            scope = info.scope or ("global" if info.is_global else "user")
            self.stats.rate_limited[scope] += 1
            log.warning(
                "429 on %s [%s] (scope %s): waiting %.3f s",
                compiled.key,
                compiled.major,
                scope,
                delay,
            )
        elif log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s [%s] -> %d (bucket %s, remaining %s, reset after %s)",
                compiled.key,
                compiled.major,
                info.status,
                info.bucket,
                info.remaining,
                info.reset_after,
            )

    def _retrying(self, compiled: CompiledRoute, why: str, delay: float) -> None:
        self.stats.retries += 1
        log.info("retrying %s [%s] after %s (in %.3f s)", compiled.key, compiled.major, why, delay)
