"""The client over zstd-stream (spec 7.5) against the emulator: ready, messages, a resume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import tether
from tether.emulator import Emulator
from tether.wire import compression

from .conftest import send_messages


async def test_ready_messages_and_a_resume_over_zstd(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    client, rec = make_client(compress="zstd-stream")
    await client.start()
    await client.wait_until_ready(timeout=10)
    [connect] = emu.log.find("connect")
    assert connect.get("compress") == "zstd-stream"
    before = await send_messages(emu, 30)
    await rec.wait(lambda: rec.message_ids == before)
    emu.faults.close(4000)
    during = await send_messages(emu, 30, start=30)  # sent while the client resumes
    await rec.wait(lambda: len(rec.of(tether.Resumed)) == 1)
    after = await send_messages(emu, 30, start=60)
    await rec.wait(lambda: len(rec.message_ids) >= 90)
    assert rec.message_ids == before + during + after  # each once, in order
    assert emu.identify_count == 1
    assert emu.resume_count == 1
    resumed_on = emu.log.find("connect")[-1]
    assert resumed_on.get("compress") == "zstd-stream"  # a fresh zstd context
    assert rec.of(tether.SessionLost) == []
    assert client.state is tether.ShardState.READY


def test_zstd_stream_is_accepted() -> None:
    tether.Client("t", compress="zstd-stream")


def test_zstd_stream_without_zstandard_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "zstd_available", lambda: False)
    monkeypatch.setattr("tether.runtime.client.zstd_available", lambda: False)
    with pytest.raises(tether.ConfigError, match="zstandard"):
        tether.Client("t", compress="zstd-stream")
    with pytest.raises(tether.ConfigError, match="lz4"):
        tether.Client("t", compress="lz4")
