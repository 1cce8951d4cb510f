"""The token never appears in logs, reprs or exceptions (README: Security)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

import tether
from tether.emulator import Emulator

from .conftest import send_messages


async def test_token_never_appears_in_logs_reprs_or_errors(
    emu: Emulator, make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = emu.token
    client, rec = make_client()
    await client.start()
    await client.wait_until_ready(timeout=10)
    await send_messages(emu, 3)
    emu.faults.close(4000)
    await rec.wait(lambda: rec.of(tether.Resumed) != [])
    emu.faults.malformed_frame()
    await rec.wait(lambda: len(rec.of(tether.Resumed)) >= 2)
    emu.faults.invalid_session(False)
    await rec.wait(lambda: len(rec.of(tether.Ready)) >= 2)
    emu.faults.close(4004)
    with pytest.raises(tether.AuthenticationFailed) as info:
        await client.wait_stopped()
    texts = [repr(client), repr(client._shards), str(info.value), repr(info.value)]
    texts += [repr(e) for e in rec.events]
    texts += [client._shards[0].config.__repr__()]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(r.args) for r in caplog.records]
    texts += [str(r.exc_info) for r in caplog.records if r.exc_info]
    assert len(caplog.records) > 5
    leaks = [t for t in texts if secret in t]
    assert leaks == []
    # and the check can fail: the raw token really is in the IDENTIFY the server received
    assert client._shards[0].config.token.reveal() == secret


def test_token_wrapper_redacts_and_strips_the_bot_prefix() -> None:
    from tether.token import Token

    token = Token("Bot abc.def.ghi")
    assert token.reveal() == "abc.def.ghi"
    assert "abc" not in repr(token) and "abc" not in str(token) and "abc" not in f"{token}"
