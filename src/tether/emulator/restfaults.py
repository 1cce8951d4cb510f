"""REST faults (spec 14 A8-A9) as data: forced 429s of each scope, 5xx, slow answers, bans.

``emu.rest.faults`` is a :class:`RestFaults`. Each injection applies to the next ``count``
requests matching ``route`` (a route key such as ``"POST /channels/{channel_id}/messages"``,
or None for any route), in the order the faults were added; ``count=None`` means until
:meth:`RestFaults.clear`. Every public method is reachable over HTTP as
``POST /_emulator/rest/faults/<name>`` with its keyword arguments as a JSON object.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["REST_FAULT_NAMES", "RestFault", "RestFaults"]

#: The public fault methods (the control API exposes exactly these).
REST_FAULT_NAMES = ("rate_limit", "server_error", "slow", "forbid_channel", "ban", "unban", "clear")
_SCOPES = ("user", "global", "shared")
_STATUSES = (500, 502, 503, 504)


@dataclasses.dataclass
class RestFault:
    """One pending fault.

    Attributes:
        kind: ``"rate_limit"``, ``"server_error"`` or ``"slow"``.
        route: the route key it applies to (None: any).
        count: requests left to hit (None: unlimited).
        scope: 429 scope (rate_limit).
        retry_after: seconds in the 429 (rate_limit).
        status: the 5xx status (server_error).
        delay_s: the added latency (slow).
    """

    kind: str
    route: str | None = None
    count: int | None = 1
    scope: str = "user"
    retry_after: float = 1.0
    status: int = 500
    delay_s: float = 0.0

    def matches(self, route: str) -> bool:
        """Whether it applies to a request of ``route``."""
        return self.route is None or self.route == route

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dataclasses.asdict(self)


class RestFaults:
    """Pending REST faults, plus the channels the bot may not write to and manual bans.

    Args:
        on_ban: called with ``(duration_s or None)`` to ban (None: lift every ban).
        log: called with ``(name, **args)`` for every injection (the emulator's log).
    """

    def __init__(self, on_ban: Any, log: Any) -> None:
        self.pending: list[RestFault] = []
        self.forbidden_channels: set[int] = set()
        self._on_ban = on_ban
        self._log = log

    def _add(self, fault: RestFault) -> None:
        if fault.count is not None and fault.count < 1:
            raise ValueError("count must be >= 1 (or None for every request)")
        self.pending.append(fault)
        self._log(fault.kind, **{k: v for k, v in fault.as_dict().items() if k != "kind"})

    def rate_limit(
        self,
        scope: str = "user",
        retry_after: float = 1.0,
        count: int | None = 1,
        route: str | None = None,
    ) -> None:
        """Answer 429 with ``retry_after`` and ``X-RateLimit-Scope: scope`` (spec 11.3).

        ``global`` adds ``X-RateLimit-Global: true`` and ``"global": true``; ``shared``
        429s do not count as invalid requests (spec 11.4).
        """
        if scope not in _SCOPES:
            raise ValueError(f"scope must be one of {_SCOPES}")
        if retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        self._add(RestFault("rate_limit", route, count, scope=scope, retry_after=retry_after))

    def server_error(
        self, status: int = 500, count: int | None = 1, route: str | None = None
    ) -> None:
        """Answer ``status`` (500, 502 with an HTML body as a proxy sends it, 503, 504)."""
        if status not in _STATUSES:
            raise ValueError(f"status must be one of {_STATUSES}")
        self._add(RestFault("server_error", route, count, status=status))

    def slow(self, delay_s: float, count: int | None = 1, route: str | None = None) -> None:
        """Answer ``delay_s`` seconds late (the request is handled after the delay)."""
        if delay_s < 0:
            raise ValueError("delay_s must be >= 0")
        self._add(RestFault("slow", route, count, delay_s=delay_s))

    def forbid_channel(self, channel_id: int | str, forbidden: bool = True) -> None:
        """The bot loses (or regains) permission to write in a channel: 403, code 50013."""
        if forbidden:
            self.forbidden_channels.add(int(channel_id))
        else:
            self.forbidden_channels.discard(int(channel_id))
        self._log("forbid_channel", channel_id=str(channel_id), forbidden=forbidden)

    def ban(self, duration_s: float = 3600.0) -> None:
        """Ban the client address now, as the invalid-request limit would (403 to everything)."""
        self._on_ban(duration_s)
        self._log("ban", duration_s=duration_s)

    def unban(self) -> None:
        """Lift every ban and forget the invalid-request counts."""
        self._on_ban(None)
        self._log("unban")

    def clear(self) -> None:
        """Drop every pending fault and forbidden channel (bans stay; see :meth:`unban`)."""
        self.pending.clear()
        self.forbidden_channels.clear()
        self._log("clear")

    def take(self, kind: str, route: str) -> RestFault | None:
        """Consume one use of the first pending fault of ``kind`` matching ``route``."""
        for fault in self.pending:
            if fault.kind == kind and fault.matches(route):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.pending.remove(fault)
                return fault
        return None
