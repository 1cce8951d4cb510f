"""zstd-stream transport compression, server side (spec 7.5; checklist 14 B10, H51).

Read with ``zstandard`` directly (tests/emulator/rawclient.py), never with tether's own
inflater, so that the emulator is checked against an independent reading of the spec.
"""

from __future__ import annotations

import aiohttp

from tether.emulator import Emulator

from .rawclient import Connect

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class TestZstdStream:
    """Spec 7.5: one context per connection, one payload per binary message, frame open."""

    async def test_every_payload_one_binary_message_in_one_open_frame(
        self, connect: Connect, emu: Emulator
    ) -> None:
        client = await connect(compress="zstd-stream")
        raw = await client.ws.receive(timeout=3)
        assert raw.type is aiohttp.WSMsgType.BINARY
        assert raw.data[:4] == ZSTD_MAGIC  # the frame starts with the first payload
        assert client.zstd is not None
        hello = client.zstd.decompress(raw.data)
        assert b'"op":10' in hello
        await client.identify()
        await client.recv_dispatch("READY")
        for _ in range(3):
            await client.recv_dispatch("GUILD_CREATE")
        channel = emu.world.text_channel_ids()[0]
        for n in range(5):
            await emu.send_message(channel, f"zstd {n}")
        contents = [(await client.recv_dispatch("MESSAGE_CREATE"))["d"]["content"] for _ in "12345"]
        assert contents == [f"zstd {n}" for n in range(5)]
        assert {kind for kind, _ in client.messages} == {"binary"}
        assert len(client.messages) == len(client.payloads)  # one message per payload
        frames = emu.log.find("frame_out")
        assert frames and all(r.get("binary") for r in frames)

    async def test_fresh_context_per_connection_including_resume(
        self, connect: Connect, emu: Emulator
    ) -> None:
        first = await connect(compress="zstd-stream")
        ready = await first.ready()
        await first.close(4000)
        await emu.wait_for("session_detached")
        second = await connect(emu.resume_gateway_url, compress="zstd-stream")
        raw = await second.ws.receive(timeout=3)
        assert raw.data[:4] == ZSTD_MAGIC  # a new frame: a new context for this socket
        assert second.zstd is not None
        assert b'"op":10' in second.zstd.decompress(raw.data)
        await second.resume(ready["d"]["session_id"], 1)
        await second.recv_dispatch("RESUMED")

    async def test_heartbeat_acks_are_compressed_too(self, connect: Connect) -> None:
        client = await connect(compress="zstd-stream")
        await client.hello()
        await client.send(1, None)
        assert (await client.recv())["op"] == 11
        assert client.messages[-1][0] == "binary"

    async def test_split_is_one_message_in_continuation_frames(
        self, connect: Connect, emu: Emulator
    ) -> None:
        client = await connect(compress="zstd-stream")
        await client.ready()
        emu.faults.split_next(4)  # zstd-stream has no suffix rule: always frames
        await emu.dispatch("USER_UPDATE", {"id": "1", "username": "fragmented"})
        got = await client.recv_dispatch("USER_UPDATE")
        assert got["d"]["username"] == "fragmented"

    async def test_refused_without_zstandard(self, connect: Connect, emu: Emulator) -> None:
        emu.hub.zstd_available = False
        client = await connect(compress="zstd-stream")
        assert await client.closed() == 4002
        record = await emu.wait_for("close_sent", code=4002)
        assert record.get("session_effect") == "none"
