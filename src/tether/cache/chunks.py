"""Gathering GUILD_MEMBERS_CHUNK replies by nonce (spec 2.10, 2.16, 10.7). Pure.

A request is opened with its guild and nonce before op 8 is sent. Chunks carrying that
nonce are collected in any order; the request is finished once every ``chunk_index`` from
0 to ``chunk_count - 1`` arrived (duplicates are ignored). A RATE_LIMITED dispatch for the
nonce finishes it too. Chunks of unknown nonces (another process, or none) are ignored.

The gateway may never answer (spec 2.10: a full-list request without GUILD_MEMBERS gets
silence), so the caller owns a timeout and calls :meth:`MemberRequests.cancel`, which
reports how far the request got. Outcomes are queued; :meth:`MemberRequests.take` drains them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tether.models import Member, Presence, Snowflake

__all__ = ["MemberRequests", "MembersProgress", "MembersRateLimited", "MembersResult"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MembersResult:
    """A finished member request.

    Attributes:
        guild_id, nonce: what was asked.
        members: every member returned, in chunk order.
        not_found: requested user ids that are not members.
        presences: presences by user id (when ``presences=True`` was asked and allowed).
        chunk_count: how many chunks the answer had.
    """

    guild_id: Snowflake
    nonce: str
    members: tuple[Member, ...]
    not_found: tuple[Snowflake, ...] = ()
    presences: dict[Snowflake, Presence] = field(default_factory=dict)
    chunk_count: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class MembersRateLimited:
    """The gateway refused a request with RATE_LIMITED; retry after ``retry_after`` s."""

    guild_id: Snowflake
    nonce: str
    retry_after: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MembersProgress:
    """How far an unfinished request got (for a timeout's error message)."""

    guild_id: Snowflake
    nonce: str
    chunks_received: int
    chunk_count: int | None
    members_received: int


@dataclass(slots=True)
class _Open:
    guild_id: Snowflake
    nonce: str
    chunk_count: int | None = None
    parts: dict[int, list[Member]] = field(default_factory=dict)
    not_found: list[Snowflake] = field(default_factory=list)
    presences: dict[Snowflake, Presence] = field(default_factory=dict)


class MemberRequests:
    """The open member requests of one client, keyed by nonce."""

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}
        self._outcomes: list[MembersResult | MembersRateLimited] = []

    def __len__(self) -> int:
        return len(self._open)

    def open(self, guild_id: Snowflake, nonce: str) -> None:
        """Start gathering chunks for ``nonce`` (call before sending op 8).

        Raises:
            ValueError: the nonce is already in use.
        """
        if nonce in self._open:
            raise ValueError(f"nonce {nonce!r} is already in use")
        self._open[nonce] = _Open(guild_id, nonce)

    def chunk(
        self,
        *,
        guild_id: Snowflake,
        nonce: str | None,
        index: int,
        count: int,
        members: list[Member],
        not_found: list[Snowflake] = (),  # type: ignore[assignment]
        presences: dict[Snowflake, Presence] | None = None,
    ) -> bool:
        """Record one GUILD_MEMBERS_CHUNK; returns whether it belonged to an open request."""
        request = self._open.get(nonce) if nonce is not None else None
        if request is None or request.guild_id != guild_id:
            return False
        if request.chunk_count is None:
            request.chunk_count = max(1, count)
        if index in request.parts or not 0 <= index < request.chunk_count:
            return True
        request.parts[index] = members
        request.not_found.extend(not_found)
        if presences:
            request.presences.update(presences)
        if len(request.parts) == request.chunk_count:
            del self._open[request.nonce]
            ordered = [m for i in sorted(request.parts) for m in request.parts[i]]
            self._outcomes.append(
                MembersResult(
                    guild_id=guild_id,
                    nonce=request.nonce,
                    members=tuple(ordered),
                    not_found=tuple(request.not_found),
                    presences=request.presences,
                    chunk_count=request.chunk_count,
                )
            )
        return True

    def rate_limited(
        self, *, guild_id: Snowflake | None, nonce: str | None, retry_after: float
    ) -> bool:
        """Record a RATE_LIMITED for op 8; returns whether it ended an open request."""
        request = self._open.get(nonce) if nonce is not None else None
        if request is None or (guild_id is not None and request.guild_id != guild_id):
            return False
        del self._open[request.nonce]
        self._outcomes.append(
            MembersRateLimited(
                guild_id=request.guild_id, nonce=request.nonce, retry_after=retry_after
            )
        )
        return True

    def progress(self, nonce: str) -> MembersProgress | None:
        """How far an open request got, or None when it is not open."""
        request = self._open.get(nonce)
        if request is None:
            return None
        return MembersProgress(
            guild_id=request.guild_id,
            nonce=nonce,
            chunks_received=len(request.parts),
            chunk_count=request.chunk_count,
            members_received=sum(len(p) for p in request.parts.values()),
        )

    def cancel(self, nonce: str) -> MembersProgress | None:
        """Give up on a request (timeout); returns how far it got, or None if not open."""
        progress = self.progress(nonce)
        self._open.pop(nonce, None)
        return progress

    def take(self) -> list[MembersResult | MembersRateLimited]:
        """The outcomes finished since the last call, in order."""
        outcomes, self._outcomes = self._outcomes, []
        return outcomes
