"""Heartbeat handling and zombie faults (spec 3; checklist 14 C19, C21-C23, H50)."""

from __future__ import annotations

from tether.emulator import Emulator

from .rawclient import Connect


class TestHeartbeatRecords:
    """Spec 3.1 / 14 C22, C23: the log says whether d was right and when beats came."""

    async def test_d_matches_last_seq_sent(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        for _ in emu.world.guild_ids():
            await client.recv_dispatch("GUILD_CREATE")
        await client.send(1, 4)
        await client.recv_until(lambda p: p["op"] == 11)
        good = await emu.wait_for("heartbeat", d=4)
        assert good.get("matches") is True
        assert good.get("expected") == 4
        await client.send(1, None)
        await client.recv_until(lambda p: p["op"] == 11)
        bad = await emu.wait_for("heartbeat", d=None)
        assert bad.get("matches") is False
        assert bad.get("first") is False

    async def test_requested_heartbeat_latency(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        assert emu.faults.request_heartbeat() == 1
        request = await client.recv_until(lambda p: p["op"] == 1)
        assert request == {"op": 1, "d": None, "s": None, "t": None}
        await client.send(1, 1)
        record = await emu.wait_for("heartbeat", d=1)
        assert 0 <= record.get("requested_latency") < 1.0


class TestAckFaults:
    """Spec 14 C19: dropped and delayed ACKs, with dispatches still flowing."""

    async def test_drop_next_n_acks(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        assert emu.faults.drop_acks(2) == 1
        for _ in range(3):
            await client.send(1, None)
        await client.recv_until(lambda p: p["op"] == 11)
        acks = emu.log.find("heartbeat_ack")
        assert [a.get("dropped") for a in acks] == [True, True, False]

    async def test_drop_all_acks_while_dispatching(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        emu.faults.drop_acks()
        await client.send(1, None)
        await emu.wait_for("heartbeat_ack", dropped=True)
        await emu.send_message(emu.world.text_channel_ids()[0], "still flowing")
        await client.recv_dispatch("MESSAGE_CREATE")
        assert not any(p["op"] == 11 for p in client.payloads)
        emu.faults.restore_acks()
        await client.send(1, None)
        await client.recv_until(lambda p: p["op"] == 11)

    async def test_probability_and_delay(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        emu.faults.drop_acks(probability=1.0)
        await client.send(1, None)
        await emu.wait_for("heartbeat_ack", dropped=True)
        emu.faults.restore_acks()
        emu.faults.delay_acks(0.1)
        await client.send(1, None)
        sent = (await emu.wait_for("heartbeat_ack", dropped=False)).time
        await client.recv_until(lambda p: p["op"] == 11)
        ack_out = await emu.wait_for("frame_out", op=11)
        assert ack_out.time - sent >= 0.1


class TestBlackHole:
    """Spec 3.2 / 14 H50: a half-open socket; the client resumes elsewhere."""

    async def test_black_hole_then_resume_replaces_it(
        self, connect: Connect, emu: Emulator
    ) -> None:
        client = await connect()
        ready = await client.ready()
        session_id = ready["d"]["session_id"]
        for _ in emu.world.guild_ids():
            await client.recv_dispatch("GUILD_CREATE")
        seq = emu.sessions[session_id].seq
        assert emu.faults.black_hole() == 1
        await client.send(1, seq)  # never read, never answered
        await emu.send_message(emu.world.text_channel_ids()[0], "into the void")
        await emu.wait_for("frame_dropped", t="MESSAGE_CREATE")
        assert emu.log.count("heartbeat", d=seq) == 0
        new = await connect(emu.resume_gateway_url)
        await new.hello()
        await new.resume(session_id, seq)
        missed = await new.recv_dispatch("MESSAGE_CREATE")
        assert missed["d"]["content"] == "into the void"
        await new.recv_dispatch("RESUMED")
        await emu.wait_for("disconnect", by="server_abort")
        assert client.payloads[-1]["t"] == "GUILD_CREATE"
