"""The REST client's pure parts: routes and majors, header parsing, errors, bodies, records."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from tether.errors import (
    ConfigError,
    Forbidden,
    HTTPError,
    InteractionAlreadyResponded,
    InteractionTimedOut,
    NotFound,
    ServerError,
    Unauthorized,
)
from tether.rest import routes
from tether.rest.builders import MISSING, AllowedMentions, message_body
from tether.rest.http import error_for, response_info
from tether.rest.interactions import InteractionBook, interaction_data
from tether.rest.types import GatewayBot, InteractionCallback, Message


class TestRoutes:
    """Spec 11.2: buckets are per top-level resource (channel, guild, webhook + token)."""

    def test_major_parameters(self) -> None:
        compiled = routes.CREATE_MESSAGE.compile(channel_id=123)
        assert (compiled.path, compiled.major) == ("/channels/123/messages", "channel_id=123")
        assert routes.GET_GUILD_MEMBER.compile(guild_id=1, user_id=2).major == "guild_id=1"
        assert routes.GET_CURRENT_USER.compile().major == ""

    def test_a_token_never_appears_in_the_major_or_the_repr(self) -> None:
        secret = "aW50ZXJhY3Rpb246c2VjcmV0"
        compiled = routes.CREATE_FOLLOWUP_MESSAGE.compile(
            application_id=9, interaction_token=secret
        )
        assert secret in compiled.path
        assert secret not in compiled.major and secret not in repr(compiled)
        assert compiled.major.startswith("application_id=9+")
        other = routes.CREATE_FOLLOWUP_MESSAGE.compile(application_id=9, interaction_token="x")
        assert other.major != compiled.major

    def test_path_parameters_are_quoted(self) -> None:
        compiled = routes.ADD_REACTION.compile(channel_id=1, message_id=2, emoji="👍")
        assert compiled.path == "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me"
        custom = routes.ADD_REACTION.compile(channel_id=1, message_id=2, emoji="blob:123")
        assert "blob%3A123" in custom.path

    def test_idempotence_and_global_exemption(self) -> None:
        assert routes.GET_CHANNEL.idempotent and routes.DELETE_MESSAGE.idempotent
        assert not routes.CREATE_MESSAGE.idempotent and not routes.EDIT_MESSAGE.idempotent
        assert routes.CREATE_INTERACTION_RESPONSE.global_exempt
        assert not routes.CREATE_MESSAGE.global_exempt


class TestHeaders:
    """Spec 11.2-11.3: the headers and the 429 body become a ResponseInfo."""

    def test_bucket_headers(self) -> None:
        headers = CIMultiDict({
            "x-ratelimit-bucket": "abc", "x-ratelimit-limit": "5",
            "x-ratelimit-remaining": "4", "x-ratelimit-reset-after": "1.250",
        })  # fmt: skip
        info = response_info(200, headers, {"id": "1"}, wall_now=0)
        assert (info.bucket, info.limit, info.remaining, info.reset_after) == ("abc", 5, 4, 1.25)

    def test_reset_epoch_is_used_without_reset_after(self) -> None:
        headers = {"X-RateLimit-Reset": "1000.5", "X-RateLimit-Remaining": "0"}
        assert response_info(200, headers, None, wall_now=1000.0).reset_after == 0.5

    def test_429_body_wins_over_retry_after_header(self) -> None:
        headers = {"Retry-After": "3", "X-RateLimit-Scope": "global", "X-RateLimit-Global": "true"}
        body = {"message": "You are being rate limited.", "retry_after": 2.5, "global": True}
        info = response_info(429, headers, body, wall_now=0)
        assert (info.retry_after, info.scope, info.is_global) == (2.5, "global", True)
        assert response_info(429, {"Retry-After": "3"}, "<html>", wall_now=0).retry_after == 3.0

    def test_garbage_headers_are_ignored(self) -> None:
        info = response_info(200, {"X-RateLimit-Limit": "many"}, None, wall_now=0)
        assert info.limit is None


class TestErrors:
    """Spec 11.5: typed errors with Discord's code and message."""

    @pytest.mark.parametrize(
        ("status", "body", "kind"),
        [
            (401, {"message": "401: Unauthorized", "code": 0}, Unauthorized),
            (403, {"message": "Missing Permissions", "code": 50013}, Forbidden),
            (404, {"message": "Unknown Channel", "code": 10003}, NotFound),
            (404, {"message": "Unknown interaction", "code": 10062}, InteractionTimedOut),
            (400, {"message": "already", "code": 40060}, InteractionAlreadyResponded),
            (502, "<html>502 Bad Gateway</html>", ServerError),
            (400, {"message": "Invalid Form Body", "code": 50035, "errors": {"a": 1}}, HTTPError),
        ],
    )
    def test_status_and_code_choose_the_class(self, status: int, body: object, kind: type) -> None:
        error = error_for(status, body, "POST /channels/{channel_id}/messages")
        assert type(error) is kind
        assert error.status == status
        assert error.route == "POST /channels/{channel_id}/messages"
        if isinstance(body, dict):
            assert (error.code, error.message) == (body["code"], body["message"])
            assert error.errors == body.get("errors")
        else:
            assert "502 Bad Gateway" in error.message


class TestBodies:
    """Spec 11.6: bodies Discord would refuse never cost a request."""

    def test_empty_and_oversized_messages_are_refused(self) -> None:
        with pytest.raises(ConfigError, match="50006"):
            message_body(content="")
        with pytest.raises(ConfigError, match="2000"):
            message_body(content="x" * 2001)
        with pytest.raises(ConfigError, match="10 embeds"):
            message_body(embeds=[{"title": "t"}] * 11)
        with pytest.raises(ConfigError, match="6000"):
            message_body(embeds=[{"description": "x" * 6001}])

    def test_only_given_fields_are_sent(self) -> None:
        assert message_body(content="hi") == {"content": "hi"}
        edit = message_body(content=MISSING, embeds=None, require_content=False)
        assert edit == {"embeds": None}
        assert message_body(content="e", ephemeral=True)["flags"] == 64

    def test_replies_and_allowed_mentions(self) -> None:
        body = message_body(
            content="pong",
            message_reference=42,
            allowed_mentions=AllowedMentions(users=(1,), replied_user=True),
        )
        assert body["message_reference"] == {"message_id": "42"}
        assert body["allowed_mentions"] == {"parse": [], "users": ["1"], "replied_user": True}
        with pytest.raises(ConfigError):
            AllowedMentions(parse=("users",), users=(1,)).to_json()
        with pytest.raises(ConfigError):
            AllowedMentions(parse=("nobody",)).to_json()


class TestInteractionBook:
    """Spec 11.6: the first answer within 3 s, and only once (on a fake clock)."""

    def test_late_and_second_answers_fail_before_sending(self) -> None:
        book = InteractionBook(window=3.0)
        book.note(1, 10.0)
        book.check_initial(1, 12.9)
        with pytest.raises(InteractionTimedOut) as late:
            book.check_initial(1, 13.5)
        assert late.value.sent is False
        assert late.value.elapsed == pytest.approx(3.5)
        assert "defer()" in str(late.value)
        book.mark_answered(1)
        with pytest.raises(InteractionAlreadyResponded):
            book.check_initial(1, 11.0)

    def test_unknown_arrival_time_is_not_judged(self) -> None:
        book = InteractionBook(capacity=2)
        book.note(1, None)
        book.check_initial(1, 1e9)
        book.note(2, 0.0)
        book.note(3, 0.0)
        assert book.received_at(1) is None and book.received_at(3) == 0.0

    def test_interaction_data_accepts_events_and_dicts(self) -> None:
        data = {"id": "1", "token": "t", "application_id": "2", "type": 2}

        class Event:
            def __init__(self) -> None:
                self.data = data

        assert interaction_data(Event()) == data == interaction_data(data)
        with pytest.raises(ConfigError):
            interaction_data({"id": "1"})


class TestRecords:
    """Typed results parse Discord's JSON leniently and keep it as ``raw``."""

    def test_message_and_reply(self) -> None:
        message = Message.from_json({
            "id": "5", "channel_id": "6", "content": "pong", "type": 19,
            "author": {"id": "7", "username": "bot", "bot": True},
            "message_reference": {"message_id": "4", "channel_id": "6"}, "extra": 1,
        })  # fmt: skip
        assert (message.id, message.channel_id, message.author.bot) == (5, 6, True)
        assert message.referenced_message_id == 4
        assert message.raw["extra"] == 1

    def test_gateway_bot_and_callback(self) -> None:
        bot = GatewayBot.from_json({
            "url": "wss://x", "shards": 2,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 5,
                                    "max_concurrency": 1},
        })  # fmt: skip
        assert bot.session_start_limit.remaining == 999
        callback = InteractionCallback.from_json({
            "interaction": {"id": "1", "type": 2, "response_message_id": "3"},
            "resource": {"type": 4, "message": {"id": "3", "channel_id": "2",
                                                "author": {"id": "9", "username": "b"}}},
        })  # fmt: skip
        assert (callback.type, callback.response_message_id) == (4, 3)
        assert callback.message is not None and callback.message.id == 3
        with pytest.raises(HTTPError):
            Message.from_json([1, 2])
