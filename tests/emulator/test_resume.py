"""Sessions, RESUME and invalidation (spec 2.9, 2.11, 5; checklist 14 G40-G44, H45-H49)."""

from __future__ import annotations

from typing import Any

import pytest

from tether.emulator import Emulator, SessionState

from .rawclient import Connect, RawGateway


async def _session(connect: Connect, emu: Emulator) -> tuple[RawGateway, str, int]:
    """A READY client with its guild stream received; returns (client, session_id, seq)."""
    client = await connect()
    ready = await client.ready()
    for _ in emu.world.guild_ids():
        await client.recv_dispatch("GUILD_CREATE")
    session_id = ready["d"]["session_id"]
    return client, session_id, emu.sessions[session_id].seq


async def _resume(
    connect: Connect, emu: Emulator, session_id: str, seq: int | None
) -> tuple[RawGateway, list[dict[str, Any]]]:
    """Resume on the resume URL; returns the client and the payloads up to RESUMED."""
    client = await connect(emu.resume_gateway_url)
    await client.hello()
    await client.resume(session_id, seq)
    await client.recv_dispatch("RESUMED")
    return client, [p for p in client.payloads if p["op"] == 0]


class TestResume:
    """Spec 5.2 / 14 G40, G41: replay after seq, original seqs, RESUMED with the next seq."""

    async def test_replays_events_sent_while_away(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, seq = await _session(connect, emu)
        channel = emu.world.text_channel_ids()[0]
        await emu.send_message(channel, "seen live")
        live = await client.recv_dispatch("MESSAGE_CREATE")
        assert live["s"] == seq + 1
        await client.close(4000)
        await emu.wait_for("disconnect")
        assert emu.sessions[session_id].state is SessionState.DETACHED
        typing = {"channel_id": str(channel), "guild_id": str(emu.world.guild_ids()[0])}
        assert await emu.dispatch("TYPING_START", typing) == 1
        sent = [await emu.send_message(channel, f"missed {i}") for i in range(3)]
        new, payloads = await _resume(connect, emu, session_id, live["s"])
        assert [p["s"] for p in payloads] == [seq + 2, seq + 3, seq + 4, seq + 5, seq + 6]
        assert payloads[0]["t"] == "TYPING_START"
        assert [p["d"]["content"] for p in payloads[1:4]] == [m["content"] for m in sent]
        assert payloads[-1]["t"] == "RESUMED"
        record = await emu.wait_for("resume")
        assert record.get("path") == "/resume"
        assert record.get("seq") == live["s"]
        assert record.get("replayed") == 4
        assert emu.resume_count == 1
        await emu.send_message(channel, "after")
        after = await new.recv_dispatch("MESSAGE_CREATE")
        assert after["s"] == seq + 7

    async def test_resume_on_base_url_and_null_seq(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, seq = await _session(connect, emu)
        await client.close(4000)
        await emu.wait_for("session_detached")
        new = await connect()
        await new.hello()
        await new.resume(session_id, None)
        resumed = await new.recv_dispatch("RESUMED")
        replayed = [p for p in new.payloads if p["op"] == 0 and p["t"] == "GUILD_CREATE"]
        assert len(replayed) == 3  # everything buffered (READY itself is not replayed)
        assert resumed["s"] == seq + 1
        assert (await emu.wait_for("resume")).get("path") == "/"

    async def test_seq_ahead_is_4007(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, seq = await _session(connect, emu)
        await client.close(4000)
        await emu.wait_for("session_detached")
        new = await connect(emu.resume_gateway_url)
        await new.hello()
        await new.resume(session_id, seq + 5)
        assert await new.closed() == 4007
        assert not emu.sessions[session_id].resumable

    async def test_wrong_token_is_4004(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, seq = await _session(connect, emu)
        await client.close(4000)
        new = await connect(emu.resume_gateway_url)
        await new.hello()
        await new.resume(session_id, seq, token="bad")
        assert await new.closed() == 4004

    async def test_unknown_session_gets_op9_then_identify_on_same_socket(
        self, connect: Connect
    ) -> None:
        client = await connect()
        await client.hello()
        await client.resume("does-not-exist", 3)
        invalid = await client.recv()
        assert invalid == {"op": 9, "d": False, "s": None, "t": None}
        await client.identify()
        assert (await client.recv_dispatch("READY"))["s"] == 1

    async def test_too_old_seq_gets_op9(self, connect: Connect, emu: Emulator) -> None:
        emu.config.replay_buffer_size = 2
        client, session_id, _ = await _session(connect, emu)
        await client.close(4000)
        new = await connect(emu.resume_gateway_url)
        await new.hello()
        await new.resume(session_id, 1)
        assert (await new.recv())["op"] == 9
        assert not emu.sessions[session_id].resumable

    async def test_resume_while_old_socket_open_replaces_it(
        self, connect: Connect, emu: Emulator
    ) -> None:
        old, session_id, seq = await _session(connect, emu)
        new, _ = await _resume(connect, emu, session_id, seq)
        assert await old.closed() == 4000
        assert emu.sessions[session_id].connection is not None
        assert emu.sessions[session_id].state is SessionState.ACTIVE
        await emu.send_message(emu.world.text_channel_ids()[0], "to the new socket")
        assert (await new.recv_dispatch("MESSAGE_CREATE"))["s"] == seq + 2


class TestInvalidation:
    """Spec 5.3, 5.5 / 14 G42, G43, H47: which closes keep the session resumable."""

    @pytest.mark.parametrize(
        ("code", "kept"), [(4000, True), (4999, True), (1000, False), (1001, False)]
    )
    async def test_client_close(
        self, connect: Connect, emu: Emulator, code: int, kept: bool
    ) -> None:
        client, session_id, seq = await _session(connect, emu)
        await client.close(code)
        await emu.wait_for("disconnect")
        assert emu.sessions[session_id].resumable is kept
        new = await connect(emu.resume_gateway_url)
        await new.hello()
        await new.resume(session_id, seq)
        answer = await new.recv()
        if kept:
            assert answer["t"] == "RESUMED"
        else:
            assert answer["op"] == 9
            assert answer["d"] is False

    @pytest.mark.parametrize(
        ("code", "kept"),
        [
            (4000, True), (4001, True), (4002, True), (4005, True), (4006, True), (4008, True),
            (1000, True), (1001, True), (4003, False), (4004, False), (4007, False),
            (4009, False), (4010, False), (4011, False), (4012, False), (4013, False),
            (4014, False),
        ],
    )  # fmt: skip
    async def test_server_close(
        self, connect: Connect, emu: Emulator, code: int, kept: bool
    ) -> None:
        client, session_id, _ = await _session(connect, emu)
        assert emu.faults.close(code) == 1
        assert await client.closed() == code
        assert emu.sessions[session_id].resumable is kept
        record = await emu.wait_for("close_sent", code=code)
        assert record.get("session_effect") == ("kept" if kept else "invalidated")

    async def test_drop_keeps_session(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, seq = await _session(connect, emu)
        assert emu.faults.drop(session_id=session_id) == 1
        assert await client.closed() is None or client.ws.closed
        await emu.wait_for("disconnect", by="server_abort")
        assert emu.sessions[session_id].resumable
        await _resume(connect, emu, session_id, seq)

    async def test_expiry(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, seq = await _session(connect, emu)
        emu.config.session_expiry_s = 0  # the resume window closes as soon as the socket goes
        await client.close(4000)
        await emu.wait_for("session_detached")
        new = await connect(emu.resume_gateway_url)
        await new.hello()
        await new.resume(session_id, seq)
        assert (await new.recv())["op"] == 9
        assert emu.sessions[session_id].invalid_reason == "expired"

    async def test_expire_session_fault(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, seq = await _session(connect, emu)
        assert emu.faults.expire_session() == 0  # active sessions are left alone by default
        await client.close(4000)
        await emu.wait_for("session_detached")
        assert emu.faults.expire_session(session_id) == 1
        new = await connect(emu.resume_gateway_url)
        await new.hello()
        await new.resume(session_id, seq)
        assert (await new.recv())["op"] == 9

    async def test_expire_active_sends_op9(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, _ = await _session(connect, emu)
        assert emu.faults.expire_session(include_active=True) == 1
        assert (await client.recv())["op"] == 9
        assert not emu.sessions[session_id].resumable


class TestServerFaults:
    """Spec 2.9, 2.11 / 14 H45, H46: op 7 and op 9 from the server."""

    async def test_reconnect_then_close_keeps_session(
        self, connect: Connect, emu: Emulator
    ) -> None:
        client, session_id, seq = await _session(connect, emu)
        assert emu.faults.reconnect(close_after_s=0.05, code=4000) == 1
        assert (await client.recv())["op"] == 7
        assert await client.closed() == 4000
        assert emu.sessions[session_id].resumable
        await _resume(connect, emu, session_id, seq)

    async def test_reconnect_never_closes_when_asked(self, connect: Connect, emu: Emulator) -> None:
        client, _, _ = await _session(connect, emu)
        emu.faults.reconnect(close_after_s=None)
        assert (await client.recv())["op"] == 7
        await client.send(1, None)
        assert (await client.recv())["op"] == 11

    async def test_op9_true_then_resume(self, connect: Connect, emu: Emulator) -> None:
        client, session_id, seq = await _session(connect, emu)
        assert emu.faults.invalid_session(resumable=True) == 1
        assert (await client.recv()) == {"op": 9, "d": True, "s": None, "t": None}
        await client.close(4000)
        await _resume(connect, emu, session_id, seq)

    async def test_op9_false_then_identify_on_same_socket(
        self, connect: Connect, emu: Emulator
    ) -> None:
        client, session_id, _ = await _session(connect, emu)
        emu.faults.invalid_session(resumable=False)
        assert (await client.recv())["d"] is False
        assert not emu.sessions[session_id].resumable
        await client.identify()
        ready = await client.recv_dispatch("READY")
        assert ready["d"]["session_id"] != session_id
        assert emu.identify_count == 2
