"""REST routes, compiled once: method, path template, major parameter (spec 11.2).

A :class:`Route` is a constant (``CREATE_MESSAGE``); :meth:`Route.compile` fills in the
parameters and gives a :class:`CompiledRoute` with the concrete path and the *major
parameter*, the top-level resource that Discord keys rate-limit buckets by (``channel_id``,
``guild_id``, or ``webhook_id`` + token).

The concrete path of a webhook or interaction route contains a secret token: only
:attr:`Route.key` and :attr:`CompiledRoute.major` (which holds a digest, never the token)
may appear in logs and errors.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

__all__ = [
    "ADD_REACTION",
    "CREATE_FOLLOWUP_MESSAGE",
    "CREATE_INTERACTION_RESPONSE",
    "CREATE_MESSAGE",
    "DELETE_MESSAGE",
    "EDIT_MESSAGE",
    "EDIT_ORIGINAL_INTERACTION_RESPONSE",
    "GET_CHANNEL",
    "GET_CHANNEL_MESSAGES",
    "GET_CURRENT_USER",
    "GET_GATEWAY_BOT",
    "GET_GUILD",
    "GET_GUILD_MEMBER",
    "GET_MESSAGE",
    "GET_ORIGINAL_INTERACTION_RESPONSE",
    "GET_USER",
    "IDEMPOTENT_METHODS",
    "TRIGGER_TYPING",
    "CompiledRoute",
    "Route",
    "token_digest",
]

#: Methods whose repetition does no harm: only these are retried after a 5xx.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Path parameters that key a bucket on their own.
_MAJOR_IDS: Final = ("channel_id", "guild_id")
#: ``(id parameter, token parameter)`` pairs that key a bucket together.
_MAJOR_TOKENS: Final = (
    ("webhook_id", "webhook_token"),
    ("application_id", "interaction_token"),
    ("interaction_id", "interaction_token"),
)


def token_digest(token: str) -> str:
    """A short, stable, non-reversible name for a webhook or interaction token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Route:
    """One REST endpoint: ``Route("POST", "/channels/{channel_id}/messages")``.

    Attributes:
        method: the HTTP method.
        template: the path below ``/api/v10`` with ``{name}`` parameters.
        global_exempt: not counted against the global limit (interaction endpoints,
            spec 11.2).
    """

    method: str
    template: str
    global_exempt: bool = False
    params: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        names = tuple(n for _, n, _, _ in string.Formatter().parse(self.template) if n)
        object.__setattr__(self, "params", names)

    @property
    def key(self) -> str:
        """``"POST /channels/{channel_id}/messages"``: safe to log."""
        return f"{self.method} {self.template}"

    @property
    def idempotent(self) -> bool:
        """Whether sending it twice does no harm (only then is a 5xx retried)."""
        return self.method in IDEMPOTENT_METHODS

    def compile(self, **params: object) -> CompiledRoute:
        """Fill in the path parameters (each URL-quoted).

        Raises:
            KeyError: a parameter of the template is missing.
        """
        values = {name: str(params[name]) for name in self.params}
        path = self.template.format(**{k: quote(v, safe="") for k, v in values.items()})
        return CompiledRoute(route=self, path=path, major=_major(values))


def _major(values: dict[str, str]) -> str:
    for id_name, token_name in _MAJOR_TOKENS:
        if id_name in values and token_name in values:
            return f"{id_name}={values[id_name]}+{token_digest(values[token_name])}"
    for name in _MAJOR_IDS:
        if name in values:
            return f"{name}={values[name]}"
    return ""


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """A route with its parameters filled in.

    Attributes:
        route: the route.
        path: the concrete path (may contain a token: never log it).
        major: the bucket's major parameter, e.g. ``"channel_id=123"`` (no token in it).
    """

    route: Route
    path: str
    major: str

    @property
    def key(self) -> str:
        """The route's key (safe to log)."""
        return self.route.key

    def __repr__(self) -> str:
        return f"CompiledRoute({self.route.key!r}, major={self.major!r})"


GET_GATEWAY_BOT: Final = Route("GET", "/gateway/bot")
GET_CURRENT_USER: Final = Route("GET", "/users/@me")
GET_USER: Final = Route("GET", "/users/{user_id}")
GET_CHANNEL_MESSAGES: Final = Route("GET", "/channels/{channel_id}/messages")
GET_CHANNEL: Final = Route("GET", "/channels/{channel_id}")
GET_GUILD: Final = Route("GET", "/guilds/{guild_id}")
GET_GUILD_MEMBER: Final = Route("GET", "/guilds/{guild_id}/members/{user_id}")
CREATE_MESSAGE: Final = Route("POST", "/channels/{channel_id}/messages")
GET_MESSAGE: Final = Route("GET", "/channels/{channel_id}/messages/{message_id}")
EDIT_MESSAGE: Final = Route("PATCH", "/channels/{channel_id}/messages/{message_id}")
DELETE_MESSAGE: Final = Route("DELETE", "/channels/{channel_id}/messages/{message_id}")
ADD_REACTION: Final = Route(
    "PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
)
TRIGGER_TYPING: Final = Route("POST", "/channels/{channel_id}/typing")
CREATE_INTERACTION_RESPONSE: Final = Route(
    "POST", "/interactions/{interaction_id}/{interaction_token}/callback", global_exempt=True
)
GET_ORIGINAL_INTERACTION_RESPONSE: Final = Route(
    "GET", "/webhooks/{application_id}/{interaction_token}/messages/@original", global_exempt=True
)
EDIT_ORIGINAL_INTERACTION_RESPONSE: Final = Route(
    "PATCH",
    "/webhooks/{application_id}/{interaction_token}/messages/@original",
    global_exempt=True,
)
CREATE_FOLLOWUP_MESSAGE: Final = Route(
    "POST", "/webhooks/{application_id}/{interaction_token}", global_exempt=True
)
