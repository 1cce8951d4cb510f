"""The bot token stays secret (STYLE habit 10; twilight config.rs, hikari ``_log_filterer``):
never in a repr, a str, an exception message or a log record. Spec 2.5/2.8: it goes only
into IDENTIFY and RESUME, bare (no ``Bot `` prefix)."""

from __future__ import annotations

import dataclasses
import logging
import pickle

import pytest

from tether.errors import InvalidState, PayloadTooLarge, fatal_error_for
from tether.gateway import CloseFrame, ConnectionEnded, ProtocolConfig
from tether.gateway.state import InvalidTransition, ShardStateMachine, Trigger
from tether.token import Token

from .helpers import TOKEN_TEXT, Pump, connected, make_config, raises_redacted


class TestTokenRedaction:
    """Spec 2.5 (Identify token) and STYLE habit 10 (redact the token in repr and logs)."""

    def test_token_repr_and_str(self) -> None:
        token = Token(TOKEN_TEXT)
        assert TOKEN_TEXT not in repr(token)
        assert TOKEN_TEXT not in str(token)
        assert TOKEN_TEXT not in f"{token}"
        assert TOKEN_TEXT not in f"{token!r}"
        assert "redacted" in repr(token)
        assert token.reveal() == TOKEN_TEXT

    @pytest.mark.parametrize("raw", [f"Bot {TOKEN_TEXT}", f"  bot {TOKEN_TEXT}\n", TOKEN_TEXT])
    def test_bot_prefix_and_whitespace_are_stripped(self, raw: str) -> None:
        assert Token(raw).reveal() == TOKEN_TEXT
        assert Token(raw) == Token(TOKEN_TEXT)

    def test_token_refuses_pickling(self) -> None:
        with raises_redacted(TypeError):
            pickle.dumps(Token(TOKEN_TEXT))

    def test_protocol_config_repr(self) -> None:
        config = make_config(shard=(0, 2), presence={"status": "online"})
        assert TOKEN_TEXT not in repr(config)
        assert TOKEN_TEXT not in str(config)
        assert "redacted" in repr(config)
        assert TOKEN_TEXT not in repr(dataclasses.replace(config, intents=1))

    def test_config_is_frozen(self) -> None:
        config = make_config()
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.intents = 0  # type: ignore[misc]
        assert isinstance(config, ProtocolConfig)

    def test_exceptions_do_not_mention_the_token(self) -> None:
        pump = connected([1])
        with raises_redacted(PayloadTooLarge):
            pump.protocol.send_command(3, {"token": TOKEN_TEXT * 100}, now=1.0)
        with raises_redacted(InvalidState):
            pump.protocol.send_command(2, None, now=1.0)
        with raises_redacted(InvalidTransition):
            ShardStateMachine().apply(Trigger.READY)
        for code in (4004, 4010, 4014, 4999):
            error = fatal_error_for(code, shard_id=1, reason="Authentication failed.")
            assert TOKEN_TEXT not in str(error)

    def test_full_session_logs_and_events_stay_clean(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        texts: list[str] = []
        pump = Pump(seed=3)
        out = pump.hello()
        assert out.sent[0]["d"]["token"] == TOKEN_TEXT  # the one place it belongs
        out = pump.ready([1, 2])
        out += pump.send(pump.server.guild_create(1))
        out += pump.feed(b"garbage that will not inflate\x00\x00\xff\xff")
        out += pump.closed(4000)
        texts += [repr(e) for e in out.events] + [repr(c) for c in out.closes]
        nxt = pump.next_socket()
        out = nxt.hello()
        assert out.sent[0]["op"] == 6
        assert out.sent[0]["d"]["token"] == TOKEN_TEXT
        out = nxt.send(nxt.server.invalid_session(False))
        out += nxt.closed(4000)
        out += nxt.ack()
        texts += [repr(e) for e in out.events] + [repr(c) for c in out.closes]
        texts += [repr(nxt.session), repr(nxt.protocol.ended), repr(nxt.config)]
        for event in out.of(ConnectionEnded):
            texts.append(event.verdict.reason)
        assert caplog.records  # the failures above were logged...
        for record in caplog.records:
            texts.append(record.getMessage())
        for text in texts:
            assert TOKEN_TEXT not in text  # ...and nothing anywhere shows the token

    def test_close_frames_never_carry_the_token(self) -> None:
        pump = Pump(make_config(compress=None))
        out = pump.feed('{"op":10,"d":{"heartbeat_interval":"' + TOKEN_TEXT[:5] + '"}}')
        for close in out.closes:
            assert isinstance(close, CloseFrame)
            assert TOKEN_TEXT not in close.reason
