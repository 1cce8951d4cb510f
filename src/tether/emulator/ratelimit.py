"""The emulator's REST rate limits (spec 11.2-11.4, 14 A7-A8), written from the server's side.

- **Buckets.** Each route key (``"POST /channels/{channel_id}/messages"``) maps to a
  :class:`BucketSpec` (name, limit, window). Routes given the same name share a bucket,
  per major parameter (channel, guild, webhook + token). A bucket's window is fixed: it
  starts with the first request after the previous window ended and allows ``limit``
  requests until it ends. Every answer carries ``X-RateLimit-Limit/Remaining/Reset/
  Reset-After/Bucket`` (``Bucket`` is a digest of the name, so giving a route another
  name changes its hash: "a bucket that changes").
- **Global limit.** ``global_limit`` requests per sliding ``global_window_s`` per bot,
  counted on arrival, interaction and webhook-token routes exempt.
- **Invalid requests.** 401, 403 and 429 answers (not ``shared`` 429s) are counted per
  client address in a sliding ``ban_window_s``; at ``ban_threshold`` the address is banned
  for ``ban_duration_s``: every request gets a Cloudflare-style 403 (Discord: 10,000 per
  10 minutes).

Everything takes ``now`` (the loop clock) and ``wall`` (epoch seconds, for
``X-RateLimit-Reset``) as arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import deque
from typing import Any

__all__ = [
    "DEFAULT_ROUTE_BUCKETS",
    "BucketSpec",
    "RestLimits",
    "ServerLimiter",
    "Window",
    "ceil_ms",
]


@dataclasses.dataclass(frozen=True, slots=True)
class BucketSpec:
    """A bucket: ``limit`` requests per ``window_s`` seconds; routes with one ``name`` share it."""

    name: str
    limit: int
    window_s: float

    @property
    def hash(self) -> str:
        """The opaque ``X-RateLimit-Bucket`` value (stable per name)."""
        return hashlib.md5(self.name.encode(), usedforsecurity=False).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"name": self.name, "limit": self.limit, "window_s": self.window_s}


#: Discord-like defaults for the routes the emulator serves (others: ``default_*``).
DEFAULT_ROUTE_BUCKETS: dict[str, BucketSpec] = {
    "POST /channels/{channel_id}/messages": BucketSpec("messages:create", 5, 5.0),
    "PATCH /channels/{channel_id}/messages/{message_id}": BucketSpec("messages:edit", 5, 5.0),
    "DELETE /channels/{channel_id}/messages/{message_id}": BucketSpec("messages:delete", 5, 1.0),
    "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me": BucketSpec(
        "reactions", 1, 0.25
    ),
    "POST /channels/{channel_id}/typing": BucketSpec("typing", 5, 5.0),
    "POST /interactions/{interaction_id}/{interaction_token}/callback": BucketSpec(
        "interactions:callback", 5, 1.0
    ),
    "POST /webhooks/{application_id}/{interaction_token}": BucketSpec("webhooks", 5, 2.0),
    "PATCH /webhooks/{application_id}/{interaction_token}/messages/@original": BucketSpec(
        "webhooks", 5, 2.0
    ),
}


@dataclasses.dataclass
class RestLimits:
    """Every REST rate-limit knob of the emulator; mutable while it runs.

    Attributes:
        enabled: apply bucket and global limits at all (headers are sent either way).
        routes: route key -> bucket (see :data:`DEFAULT_ROUTE_BUCKETS`).
        default_limit: requests per ``default_window_s`` for routes not in ``routes``
            (each such route is its own bucket).
        default_window_s: see ``default_limit``.
        global_limit: requests per ``global_window_s`` across non-exempt routes (50/s).
        global_window_s: the global sliding window.
        ban_threshold: invalid answers per ``ban_window_s`` that ban the client address.
        ban_window_s: the invalid-request window (Discord: 600 s).
        ban_duration_s: how long a ban lasts.
        interaction_window_s: seconds an interaction accepts its first callback (3 s).
        interaction_token_ttl_s: seconds its token stays valid for edits and follow-ups.
    """

    enabled: bool = True
    routes: dict[str, BucketSpec] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_ROUTE_BUCKETS)
    )
    default_limit: int = 50
    default_window_s: float = 1.0
    global_limit: int = 50
    global_window_s: float = 1.0
    ban_threshold: int = 10_000
    ban_window_s: float = 600.0
    ban_duration_s: float = 3600.0
    interaction_window_s: float = 3.0
    interaction_token_ttl_s: float = 900.0

    def set_bucket(self, route: str, name: str, limit: int, window_s: float) -> BucketSpec:
        """Give ``route`` (e.g. ``"POST /channels/{channel_id}/messages"``) a bucket."""
        if limit < 1 or window_s <= 0:
            raise ValueError("a bucket needs limit >= 1 and window_s > 0")
        spec = BucketSpec(name, limit, window_s)
        self.routes[route] = spec
        return spec

    def spec_for(self, route: str) -> BucketSpec:
        """The bucket of a route key."""
        spec = self.routes.get(route)
        if spec is None:
            spec = BucketSpec(f"default {route}", self.default_limit, self.default_window_s)
        return spec

    def update(self, **changes: Any) -> None:
        """Set fields from JSON-ready values (``routes`` as ``{route: {name, limit, window_s}}``).

        Raises:
            KeyError: an unknown field.
            ValueError, TypeError: a bad value.
        """
        names = {f.name for f in dataclasses.fields(self)}
        for key in changes:
            if key not in names:
                raise KeyError(key)
        for key, value in changes.items():
            if key == "routes":
                for route, spec in dict(value).items():
                    self.set_bucket(route, str(spec["name"]), int(spec["limit"]),
                                    float(spec["window_s"]))  # fmt: skip
            elif isinstance(getattr(self, key), bool):
                setattr(self, key, bool(value))
            else:
                setattr(self, key, type(getattr(self, key))(value))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = dataclasses.asdict(self)
        data["routes"] = {route: spec.as_dict() for route, spec in self.routes.items()}
        return data


@dataclasses.dataclass(slots=True)
class Window:
    """One bucket's current window."""

    reset_at: float
    used: int = 0


def ceil_ms(seconds: float) -> float:
    """Round up to whole milliseconds, so a client that waits this long is never early."""
    return math.ceil(max(0.0, seconds) * 1000 - 1e-6) / 1000


class ServerLimiter:
    """Bucket windows, the global log, invalid-request counts and bans.

    Args:
        limits: the knobs (read at every call, so changes apply at once).
    """

    def __init__(self, limits: RestLimits) -> None:
        self.limits = limits
        self._windows: dict[tuple[str, str], Window] = {}
        self._global: deque[float] = deque()
        self._invalid: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}

    # buckets -----------------------------------------------------------------------------

    def _window(self, spec: BucketSpec, major: str, now: float) -> Window:
        key = (spec.name, major)
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = self._windows[key] = Window(now + spec.window_s)
        return window

    def take(self, route: str, major: str, now: float) -> tuple[BucketSpec, Window, bool]:
        """Count one request against its bucket.

        Returns:
            The bucket, its window, and whether the request fits (False: answer 429).
        """
        spec = self.limits.spec_for(route)
        window = self._window(spec, major, now)
        if self.limits.enabled and window.used >= spec.limit:
            return spec, window, False
        window.used += 1
        return spec, window, True

    def peek(self, route: str, major: str, now: float) -> tuple[BucketSpec, Window]:
        """The bucket and window of a route without counting a request."""
        spec = self.limits.spec_for(route)
        return spec, self._window(spec, major, now)

    @staticmethod
    def headers(spec: BucketSpec, window: Window, now: float, wall: float) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers describing ``window`` (spec 11.2)."""
        after = ceil_ms(window.reset_at - now)
        return {
            "X-RateLimit-Limit": str(spec.limit),
            "X-RateLimit-Remaining": str(max(0, spec.limit - window.used)),
            "X-RateLimit-Reset": f"{wall + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": spec.hash,
        }

    # global ------------------------------------------------------------------------------

    def take_global(self, now: float) -> float | None:
        """Count one request against the global limit; seconds to wait if it does not fit."""
        period = self.limits.global_window_s
        while self._global and self._global[0] <= now - period:
            self._global.popleft()
        if self.limits.enabled and len(self._global) >= self.limits.global_limit:
            return ceil_ms(self._global[0] + period - now)
        self._global.append(now)
        return None

    # invalid requests and bans -----------------------------------------------------------

    def count_invalid(self, client: str, now: float) -> bool:
        """Count one invalid answer for ``client``; True when this starts a ban."""
        times = self._invalid.setdefault(client, deque())
        times.append(now)
        while times and times[0] <= now - self.limits.ban_window_s:
            times.popleft()
        if len(times) >= self.limits.ban_threshold and not self.banned_for(client, now):
            self.ban(client, now, self.limits.ban_duration_s)
            return True
        return False

    def invalid_count(self, client: str, now: float) -> int:
        """Invalid answers counted for ``client`` in the window."""
        times = self._invalid.get(client, deque())
        return sum(1 for t in times if t > now - self.limits.ban_window_s)

    def ban(self, client: str, now: float, duration_s: float) -> None:
        """Ban ``client`` for ``duration_s``."""
        self._banned_until[client] = now + duration_s

    def unban(self, client: str | None = None) -> None:
        """Lift a ban (every ban when ``client`` is None) and forget the counts."""
        if client is None:
            self._banned_until.clear()
            self._invalid.clear()
        else:
            self._banned_until.pop(client, None)
            self._invalid.pop(client, None)

    def banned_for(self, client: str, now: float) -> float | None:
        """Seconds left of ``client``'s ban (None: not banned)."""
        until = self._banned_until.get(client)
        if until is None or now >= until:
            return None
        return until - now

    def reset(self) -> None:
        """Forget every window (not bans): the next request of each bucket starts afresh."""
        self._windows.clear()
        self._global.clear()
