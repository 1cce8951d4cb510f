"""RestClient: Discord's REST endpoints a bot needs, rate limited so it never gets banned.

Usable alone or as ``tether.Client(...).rest`` (same token and API URL)::

    async with RestClient(token) as rest:
        me = await rest.get_current_user()
        message = await rest.create_message(channel_id, content="hello")

Every request goes through one :class:`~tether.rest.ratelimit.RateLimiter` (per-route
buckets, the global limit, 429 handling, the invalid-request guard) driven by
:class:`~tether.rest.http.Requester`. Results are typed records
(:mod:`tether.rest.types`); failures are typed errors (:mod:`tether.errors`): ``NotFound``,
``Forbidden``, ``Unauthorized``, ``RateLimited`` (with ``retry_after``), ``ServerError``,
``InvalidRequestLimit``, or ``HTTPError`` with Discord's ``code`` and ``message``.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Mapping, Sequence
from typing import Any, Final

import aiohttp

from tether.errors import ConfigError, InteractionTimedOut
from tether.rest import routes
from tether.rest.builders import MISSING, AllowedMentions, Missing, message_body
from tether.rest.http import Requester, RestStats
from tether.rest.interactions import (
    RESPONSE_WINDOW,
    CallbackType,
    Interaction,
    InteractionBook,
    interaction_data,
)
from tether.rest.ratelimit import LimiterConfig, RateLimiter
from tether.rest.types import (
    Channel,
    GatewayBot,
    Guild,
    InteractionCallback,
    Member,
    Message,
    User,
)
from tether.token import Token
from tether.urls import check_url

__all__ = ["DISCORD_API_URL", "RestClient"]

DISCORD_API_URL: Final = "https://discord.com/api/v10"
#: The most messages one history request returns (Discord: 100).
_MAX_HISTORY_PAGE: Final = 100

Snowflake = int | str
Embeds = Sequence[Mapping[str, Any]]
Mentions = AllowedMentions | Mapping[str, Any]
Components = Sequence[Mapping[str, Any]]


class RestClient:
    """Discord's REST API for a bot, with every rate limit kept.

    Args:
        token: the bot token (``Bot `` prefix optional); never logged or shown.
        api_url: the REST base (default Discord's v10; the emulator's for tests).
            Plain ``http://`` is accepted only for loopback hosts.
        limits: rate-limit knobs (:class:`LimiterConfig`; Discord's numbers by default).
            Scale ``global_limit``/``global_period`` together with a test emulator's.
        timeout: seconds for one attempt of one request.
        session: an aiohttp session to use (default: one of its own, made on first use).
        interaction_window: seconds allowed for an interaction's first answer.

    Raises:
        ConfigError: an invalid URL or token (before any I/O).
    """

    def __init__(
        self,
        token: str | Token,
        *,
        api_url: str = DISCORD_API_URL,
        limits: LimiterConfig | None = None,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
        interaction_window: float = RESPONSE_WINDOW,
    ) -> None:
        token = token if isinstance(token, Token) else Token(token)
        if not token.reveal():
            raise ConfigError("token must be a non-empty string")
        self.api_url = check_url(api_url, kind="http").rstrip("/")
        self.limiter = RateLimiter(limits)
        self.interactions = InteractionBook(window=interaction_window)
        self._http = Requester(
            token, self.api_url, limiter=self.limiter, timeout=timeout, session=session
        )

    def __repr__(self) -> str:
        return f"<tether.RestClient {self.api_url} token=<redacted>>"

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (a later request opens a new one)."""
        await self._http.close()

    @property
    def stats(self) -> RestStats:
        """Counters: requests sent, answers per status, 429s per scope, retries, refusals."""
        return self._http.stats

    def now(self) -> float:
        """The clock the client uses (the running loop's)."""
        return asyncio.get_running_loop().time()

    async def _request(
        self,
        route: routes.Route,
        *,
        json: Any = None,
        query: Mapping[str, str] | None = None,
        auth: bool = True,
        **params: object,
    ) -> Any:
        return await self._http.request(route.compile(**params), json=json, query=query, auth=auth)

    # ------------------------------------------------------------------ bot and gateway
    async def get_gateway_bot(self) -> GatewayBot:
        """``GET /gateway/bot``: the gateway URL, shards and session-start budget."""
        return GatewayBot.from_json(await self._request(routes.GET_GATEWAY_BOT))

    async def get_current_user(self) -> User:
        """``GET /users/@me``: the bot's own user."""
        return User.from_json(await self._request(routes.GET_CURRENT_USER))

    async def get_user(self, user_id: Snowflake) -> User:
        """``GET /users/{user_id}``: any user (``NotFound`` 10013 if unknown)."""
        return User.from_json(await self._request(routes.GET_USER, user_id=user_id))

    # ------------------------------------------------------------------ guilds and channels
    async def get_channel(self, channel_id: Snowflake) -> Channel:
        """``GET /channels/{id}``."""
        data = await self._request(routes.GET_CHANNEL, channel_id=channel_id)
        return Channel.from_json(data)

    async def get_guild(self, guild_id: Snowflake) -> Guild:
        """``GET /guilds/{id}``."""
        return Guild.from_json(await self._request(routes.GET_GUILD, guild_id=guild_id))

    async def get_guild_member(self, guild_id: Snowflake, user_id: Snowflake) -> Member:
        """``GET /guilds/{guild_id}/members/{user_id}``."""
        data = await self._request(routes.GET_GUILD_MEMBER, guild_id=guild_id, user_id=user_id)
        return Member.from_json(data)

    # ------------------------------------------------------------------ messages
    async def create_message(
        self,
        channel_id: Snowflake,
        content: str | None = None,
        *,
        embeds: Embeds | None = None,
        allowed_mentions: Mentions | None = None,
        message_reference: Message | Mapping[str, Any] | int | None = None,
        components: Components | None = None,
        tts: bool = False,
        nonce: int | str | None = None,
        enforce_nonce: bool = False,
        flags: int | None = None,
    ) -> Message:
        """``POST /channels/{id}/messages`` (spec 11.6).

        Args:
            content: up to 2000 characters.
            embeds: up to 10 embed objects.
            allowed_mentions: who may be pinged (:class:`AllowedMentions` or a dict).
            message_reference: reply to this message (a message, its id, or a dict).
            nonce, enforce_nonce: deduplicate a retried send on Discord's side.

        Raises:
            ConfigError: the body would be refused (empty, too long); nothing is sent.
        """
        body = message_body(
            content=content,
            embeds=embeds if embeds is not None else MISSING,
            allowed_mentions=allowed_mentions if allowed_mentions is not None else MISSING,
            message_reference=message_reference,
            components=components if components is not None else MISSING,
            tts=tts if tts else MISSING,
            nonce=nonce,
            enforce_nonce=enforce_nonce if enforce_nonce else MISSING,
            flags=flags if flags is not None else MISSING,
        )
        data = await self._request(routes.CREATE_MESSAGE, json=body, channel_id=channel_id)
        return Message.from_json(data)

    async def get_channel_messages(
        self,
        channel_id: Snowflake,
        *,
        limit: int = 50,
        before: Snowflake | None = None,
        after: Snowflake | None = None,
        around: Snowflake | None = None,
    ) -> list[Message]:
        """``GET /channels/{channel_id}/messages``: one page of history, newest first.

        Args:
            limit: 1-100 messages.
            before: only messages older than this id.
            after: the messages right after this id.
            around: the messages around this id.

        Raises:
            ConfigError: ``limit`` out of range, or more than one of before/after/around.
        """
        if not 1 <= limit <= _MAX_HISTORY_PAGE:
            raise ConfigError(f"limit must be 1-{_MAX_HISTORY_PAGE}, got {limit}")
        anchors = {"before": before, "after": after, "around": around}
        given = {k: str(int(v)) for k, v in anchors.items() if v is not None}
        if len(given) > 1:
            raise ConfigError(f"give at most one of before, after, around; got {sorted(given)}")
        query = {"limit": str(limit), **given}
        data = await self._request(routes.GET_CHANNEL_MESSAGES, query=query, channel_id=channel_id)
        return [Message.from_json(m) for m in data]

    async def get_message(self, channel_id: Snowflake, message_id: Snowflake) -> Message:
        """``GET /channels/{channel_id}/messages/{message_id}``."""
        data = await self._request(routes.GET_MESSAGE, channel_id=channel_id, message_id=message_id)
        return Message.from_json(data)

    async def edit_message(
        self,
        channel_id: Snowflake,
        message_id: Snowflake,
        *,
        content: str | Missing | None = MISSING,
        embeds: Embeds | Missing | None = MISSING,
        allowed_mentions: Mentions | Missing | None = MISSING,
        components: Components | Missing | None = MISSING,
        flags: int | Missing | None = MISSING,
    ) -> Message:
        """``PATCH /channels/{channel_id}/messages/{message_id}``; unset fields stay as they are."""
        body = message_body(
            content=content, embeds=embeds, allowed_mentions=allowed_mentions,
            components=components, flags=flags, require_content=False,
        )  # fmt: skip
        data = await self._request(
            routes.EDIT_MESSAGE, json=body, channel_id=channel_id, message_id=message_id
        )
        return Message.from_json(data)

    async def delete_message(self, channel_id: Snowflake, message_id: Snowflake) -> None:
        """``DELETE /channels/{channel_id}/messages/{message_id}``."""
        await self._request(routes.DELETE_MESSAGE, channel_id=channel_id, message_id=message_id)

    async def add_reaction(self, channel_id: Snowflake, message_id: Snowflake, emoji: str) -> None:
        """``PUT .../reactions/{emoji}/@me``: a unicode emoji, or ``name:id`` for a custom one."""
        if not emoji:
            raise ConfigError("emoji must not be empty")
        await self._request(
            routes.ADD_REACTION, channel_id=channel_id, message_id=message_id, emoji=emoji
        )

    async def trigger_typing(self, channel_id: Snowflake) -> None:
        """``POST /channels/{id}/typing``: show "typing..." for about 10 s."""
        await self._request(routes.TRIGGER_TYPING, channel_id=channel_id)

    # ------------------------------------------------------------------ interactions
    def note_interaction(self, event: Any, now: float | None = None) -> None:
        """Record when an interaction arrived (``tether.Client`` does this for you)."""
        data = interaction_data(event)
        self.interactions.note(int(data["id"]), self.now() if now is None else now)

    def interaction(self, event: Any) -> Interaction:
        """Wrap an INTERACTION_CREATE (the ``Dispatch`` or its ``data``) for answering."""
        data = interaction_data(event)
        self.interactions.note(int(data["id"]), None)
        return Interaction(self, data)

    async def respond(self, event: Any, content: str | None = None, **kwargs: Any) -> None:
        """Answer an interaction with a message (see :meth:`Interaction.respond`)."""
        await self.interaction(event).respond(content, **kwargs)

    async def defer(self, event: Any, *, ephemeral: bool = False) -> None:
        """Acknowledge an interaction now, answer later (see :meth:`Interaction.defer`)."""
        await self.interaction(event).defer(ephemeral=ephemeral)

    async def create_interaction_response(
        self,
        interaction_id: Snowflake,
        interaction_token: str,
        type: int,
        data: Mapping[str, Any] | None = None,
        *,
        with_response: bool = False,
    ) -> InteractionCallback | None:
        """``POST /interactions/{id}/{token}/callback`` (no Bot auth; not globally limited).

        Raises:
            InteractionTimedOut: the 3 s window passed (checked before sending when the
                arrival time is known; Discord's 10062 otherwise).
            InteractionAlreadyResponded: a second initial answer (40060).
        """
        ident = int(interaction_id)
        route = routes.CREATE_INTERACTION_RESPONSE
        self.interactions.check_initial(ident, self.now(), route=route.key)
        body: dict[str, Any] = {"type": int(CallbackType(type))}
        if data is not None:
            body["data"] = dict(data)
        try:
            result = await self._request(
                route,
                json=body,
                query={"with_response": "true"} if with_response else None,
                auth=False,
                interaction_id=ident,
                interaction_token=interaction_token,
            )
        except InteractionTimedOut as exc:
            elapsed = self.interactions.elapsed(ident, self.now())
            raise InteractionTimedOut(
                exc.status, exc.code, exc.message, route=route.key, elapsed=elapsed
            ) from None
        self.interactions.mark_answered(ident)
        return InteractionCallback.from_json(result) if with_response and result else None

    async def get_original_interaction_response(
        self, application_id: Snowflake, interaction_token: str
    ) -> Message:
        """``GET /webhooks/{application_id}/{token}/messages/@original``."""
        data = await self._request(
            routes.GET_ORIGINAL_INTERACTION_RESPONSE, auth=False,
            application_id=application_id, interaction_token=interaction_token,
        )  # fmt: skip
        return Message.from_json(data)

    async def edit_original_interaction_response(
        self,
        application_id: Snowflake,
        interaction_token: str,
        *,
        content: str | Missing | None = MISSING,
        embeds: Embeds | Missing | None = MISSING,
        allowed_mentions: Mentions | Missing | None = MISSING,
        components: Components | Missing | None = MISSING,
    ) -> Message:
        """``PATCH /webhooks/{application_id}/{token}/messages/@original``."""
        body = message_body(
            content=content, embeds=embeds, allowed_mentions=allowed_mentions,
            components=components, require_content=False,
        )  # fmt: skip
        data = await self._request(
            routes.EDIT_ORIGINAL_INTERACTION_RESPONSE, json=body, auth=False,
            application_id=application_id, interaction_token=interaction_token,
        )  # fmt: skip
        return Message.from_json(data)

    async def create_followup_message(
        self,
        application_id: Snowflake,
        interaction_token: str,
        content: str | None = None,
        *,
        embeds: Embeds | None = None,
        allowed_mentions: Mentions | None = None,
        components: Components | None = None,
        ephemeral: bool = False,
    ) -> Message:
        """``POST /webhooks/{application_id}/{token}``: a follow-up message (15 min)."""
        body = message_body(
            content=content,
            embeds=embeds if embeds is not None else MISSING,
            allowed_mentions=allowed_mentions if allowed_mentions is not None else MISSING,
            components=components if components is not None else MISSING,
            ephemeral=ephemeral,
        )
        data = await self._request(
            routes.CREATE_FOLLOWUP_MESSAGE, json=body, auth=False, query={"wait": "true"},
            application_id=application_id, interaction_token=interaction_token,
        )  # fmt: skip
        return Message.from_json(data)
