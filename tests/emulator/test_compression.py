"""Transport compression and framing faults (spec 7.4; checklist 14 I55, H51)."""

from __future__ import annotations

import json
import zlib

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.emulator import Emulator
from tether.emulator.connection import ZLIB_SUFFIX, split_zlib_blob

from .rawclient import Connect


class TestZlibStream:
    """Spec 7.4: one context per connection, sync flush per payload, binary frames."""

    async def test_everything_binary_and_suffixed(self, connect: Connect) -> None:
        client = await connect(compress="zlib-stream")
        await client.ready()
        await client.recv_dispatch("GUILD_CREATE")
        assert {kind for kind, _ in client.messages} == {"binary"}
        assert len(client.messages) == len(client.payloads)  # one message per payload

    async def test_fresh_context_per_connection_including_resume(
        self, connect: Connect, emu: Emulator
    ) -> None:
        first = await connect(compress="zlib-stream")
        ready = await first.ready()
        await first.close(4000)
        await emu.wait_for("session_detached")
        second = await connect(emu.resume_gateway_url, compress="zlib-stream")
        raw = await second.ws.receive(timeout=3)
        assert raw.type is aiohttp.WSMsgType.BINARY
        assert raw.data[:2] == b"\x78\x9c"  # a new zlib header: a new stream
        assert second.inflater is not None  # the raw client made a fresh one for this socket
        hello = json.loads(second.inflater.decompress(raw.data))
        assert hello["op"] == 10
        await second.resume(ready["d"]["session_id"], 1)
        await second.recv_dispatch("RESUMED")

    async def test_split_across_messages(self, connect: Connect, emu: Emulator) -> None:
        client = await connect(compress="zlib-stream")
        await client.ready()
        for _ in range(3):
            await client.recv_dispatch("GUILD_CREATE")
        assert emu.faults.split_next(5, payloads=2) == 1
        before = len(client.messages)
        channel = emu.world.text_channel_ids()[0]
        await emu.send_message(channel, "split one")
        await emu.send_message(channel, "split two")
        await emu.send_message(channel, "whole")
        contents = [(await client.recv_dispatch("MESSAGE_CREATE"))["d"]["content"] for _ in "123"]
        assert contents == ["split one", "split two", "whole"]
        assert len(client.messages) - before == 5 + 5 + 1
        record = await emu.wait_for("frame_out", parts=5)
        assert record.get("t") == "MESSAGE_CREATE"

    async def test_split_as_continuation_frames(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        emu.faults.split_next(4, mode="frames")
        await emu.dispatch("USER_UPDATE", {"id": "1", "username": "fragmented"})
        got = await client.recv_dispatch("USER_UPDATE")
        assert got["d"]["username"] == "fragmented"

    @pytest.mark.parametrize("compress", [None, "zlib-stream"])
    async def test_trickle(self, connect: Connect, emu: Emulator, compress: str | None) -> None:
        client = await connect(compress=compress)
        await client.ready()
        emu.faults.trickle_next(chunk_bytes=7, interval_s=0)
        await emu.dispatch("USER_UPDATE", {"id": "1", "username": "slow"})
        assert (await client.recv_dispatch("USER_UPDATE"))["d"]["username"] == "slow"

    async def test_oversized_payload(self, connect: Connect, emu: Emulator) -> None:
        client = await connect(compress="zlib-stream")
        await client.ready()
        assert emu.faults.oversized(1_200_000) == 1
        got = await client.recv_dispatch("EMULATOR_OVERSIZED")
        assert len(got["d"]["padding"]) == 1_200_000

    async def test_corrupt_zlib(self, connect: Connect, emu: Emulator) -> None:
        client = await connect(compress="zlib-stream")
        await client.ready()
        emu.faults.corrupt_zlib()
        with pytest.raises(zlib.error):
            await client.recv_until(lambda p: False)

    @pytest.mark.parametrize("compress", [None, "zlib-stream"])
    async def test_malformed_json(
        self, connect: Connect, emu: Emulator, compress: str | None
    ) -> None:
        client = await connect(compress=compress)
        await client.ready()
        emu.faults.malformed_frame()
        with pytest.raises(json.JSONDecodeError):
            await client.recv_until(lambda p: False)


@given(st.binary(min_size=1, max_size=300), st.integers(min_value=1, max_value=40))
def test_split_never_leaves_suffix_on_a_non_final_piece(prefix: bytes, parts: int) -> None:
    """Spec 14 H51: pieces rejoin to the blob and only the last ends in 00 00 FF FF."""
    blob = prefix + ZLIB_SUFFIX + prefix + ZLIB_SUFFIX
    pieces = split_zlib_blob(blob, parts)
    assert b"".join(pieces) == blob
    assert all(pieces)
    assert not any(p.endswith(ZLIB_SUFFIX) for p in pieces[:-1])
    assert len(pieces) <= parts
