"""Dispatch generation, routing and client requests (spec 2.10-2.16, 8, 9, 10; 14 E, F36-F38)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tether.emulator import Emulator

from .rawclient import Connect

FIXTURES = Path("/work/shared/fixtures/discord-docs")
GUILDS = 1
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
ALL = 0x331FFFF


class TestSequence:
    """Spec 2.3 / 14 E30, E33: one increasing seq per session; duplicates get new seqs."""

    async def test_seq_increments_and_duplicates(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        await emu.wait_for("guild_stream_done")
        assert await emu.dispatch("USER_UPDATE", {"id": "1"}, copies=2) == 1
        first = await client.recv_dispatch("USER_UPDATE")
        second = await client.recv_dispatch("USER_UPDATE")
        assert (first["s"], second["s"]) == (5, 6)
        assert first["d"] == second["d"]
        session = next(iter(emu.sessions.values()))
        assert [item.s for item in session.buffer] == [2, 3, 4, 5, 6]

    async def test_unknown_names_fields_and_opcodes(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        await emu.dispatch("SOMETHING_NEW", {"x": 1, "_extra": [1, 2]})
        unknown = await client.recv_dispatch("SOMETHING_NEW")
        assert unknown["d"] == {"x": 1, "_extra": [1, 2]}
        assert emu.faults.unknown_opcode(99, {"hello": True}) == 1
        assert (await client.recv_until(lambda p: p["op"] == 99))["d"] == {"hello": True}
        emu.faults.unknown_fields()
        await client.send(1, None)
        ack = await client.recv_until(lambda p: p["op"] == 11)
        assert "_emulator_unknown" in ack


class TestIntentsAndRouting:
    """Spec 8 and 9 / 14 E31: intent filter, content blanking, shard routing."""

    async def test_intent_filter(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready(intents=GUILDS)
        guild_id = str(emu.world.guild_ids()[0])
        channel = emu.world.text_channel_ids(guild_id)[0]
        assert (
            await emu.dispatch("PRESENCE_UPDATE", {"guild_id": guild_id, "user": {"id": "1"}}) == 0
        )
        assert (
            await emu.dispatch("GUILD_MEMBER_ADD", {"guild_id": guild_id, "user": {"id": "1"}}) == 0
        )
        bot_update = {"guild_id": guild_id, "user": {"id": str(emu.world.bot.id)}, "roles": []}
        assert await emu.dispatch("GUILD_MEMBER_UPDATE", bot_update) == 1
        await emu.send_message(channel, "not for you")
        assert await emu.dispatch("CHANNEL_UPDATE", {"id": str(channel), "guild_id": guild_id}) == 1
        update = await client.recv_dispatch("CHANNEL_UPDATE")
        assert not any(p["t"] == "MESSAGE_CREATE" for p in client.payloads)
        assert update["s"] == 6  # READY, 3 GUILD_CREATEs, the bot's member update, this

    async def test_message_content_blanking(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready(intents=GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES)
        channel = emu.world.text_channel_ids()[0]
        await emu.send_message(channel, "secret", embeds=[{"title": "t"}])
        blank = await client.recv_dispatch("MESSAGE_CREATE")
        assert blank["d"]["content"] == ""
        assert blank["d"]["embeds"] == []
        await emu.send_message(channel, f"hey <@{emu.world.bot.id}>")
        mention = await client.recv_dispatch("MESSAGE_CREATE")
        assert mention["d"]["content"] == f"hey <@{emu.world.bot.id}>"
        assert mention["d"]["mentions"][0]["id"] == str(emu.world.bot.id)
        await emu.send_message(channel, "mine", author=emu.world.bot.id)
        assert (await client.recv_dispatch("MESSAGE_CREATE"))["d"]["content"] == "mine"
        user = next(iter(emu.world.users))
        dm = emu.world.dm_channel(user)
        await emu.send_message(dm.id, "a dm")
        direct = await client.recv_dispatch("MESSAGE_CREATE")
        assert direct["d"]["content"] == "a dm"
        assert "guild_id" not in direct["d"]
        assert "member" not in direct["d"]

    async def test_message_create_shape(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        channel = emu.world.text_channel_ids()[1]
        message = await emu.send_message(channel, "hello", nonce="n1")
        got = (await client.recv_dispatch("MESSAGE_CREATE"))["d"]
        assert got == message
        for key in (
            "id", "channel_id", "guild_id", "author", "member", "content", "timestamp",
            "edited_timestamp", "tts", "mention_everyone", "mentions", "mention_roles",
            "attachments", "embeds", "pinned", "type",
        ):  # fmt: skip
            assert key in got
        assert "user" not in got["member"]
        assert got["nonce"] == "n1"
        assert int(got["id"]) > max(emu.world.guild_ids())

    async def test_shard_routing(self, connect: Connect, emu: Emulator) -> None:
        shard0, shard1 = await connect(), await connect()
        await shard0.ready(shard=[0, 2])
        await shard1.ready(shard=[1, 2])
        guild = next(g for g in emu.world.guild_ids() if (g >> 22) % 2 == 1)
        channel = emu.world.text_channel_ids(guild)[0]
        await emu.send_message(channel, "shard one")
        assert (await shard1.recv_dispatch("MESSAGE_CREATE"))["d"]["content"] == "shard one"
        assert await emu.dispatch("USER_UPDATE", {"id": "1"}) == 1  # no guild: shard 0 only
        await shard0.recv_dispatch("USER_UPDATE")
        assert not any(p["t"] == "MESSAGE_CREATE" for p in shard0.payloads)


class TestClientRequests:
    """Spec 2.7, 2.10, 2.14-2.16 / 14 E34, F36-F38."""

    async def test_request_guild_members(self, connect: Connect, emu: Emulator) -> None:
        emu.config.member_chunk_size = 4
        emu.config.member_request_window_s = 30
        client = await connect()
        await client.ready()
        guild = emu.world.guild(emu.world.guild_ids()[0])
        await client.send(8, {"guild_id": str(guild.id), "query": "", "limit": 0, "nonce": "n"})
        chunks = [await client.recv_dispatch("GUILD_MEMBERS_CHUNK")]
        while len(chunks) < chunks[0]["d"]["chunk_count"]:
            chunks.append(await client.recv_dispatch("GUILD_MEMBERS_CHUNK"))
        assert [c["d"]["chunk_index"] for c in chunks] == list(range(len(chunks)))
        assert sum(len(c["d"]["members"]) for c in chunks) == guild.member_count
        assert all(c["d"]["nonce"] == "n" for c in chunks)
        await client.send(8, {"guild_id": str(guild.id), "query": "", "limit": 0, "nonce": "n2"})
        limited = await client.recv_dispatch("RATE_LIMITED")
        assert limited["d"]["opcode"] == 8
        assert limited["d"]["meta"] == {"guild_id": str(guild.id), "nonce": "n2"}
        member_id = str(next(iter(guild.members)))
        await client.send(8, {"guild_id": str(guild.id), "user_ids": [member_id, "123"]})
        by_id = await client.recv_dispatch("GUILD_MEMBERS_CHUNK")
        assert [m["user"]["id"] for m in by_id["d"]["members"]] == [member_id]
        assert by_id["d"]["not_found"] == [123]

    async def test_full_member_list_needs_intent(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready(intents=GUILDS)
        guild_id = str(emu.world.guild_ids()[0])
        await client.send(8, {"guild_id": guild_id, "query": "", "limit": 0})
        await emu.wait_for("members_ignored")
        await client.send(1, None)
        await client.recv_until(lambda p: p["op"] == 11)
        assert not any(p["t"] == "GUILD_MEMBERS_CHUNK" for p in client.payloads)

    async def test_voice_soundboard_channel_info_presence(
        self, connect: Connect, emu: Emulator
    ) -> None:
        client = await connect()
        await client.ready()
        guild = emu.world.guild(emu.world.guild_ids()[0])
        voice = next(c for c in guild.channels if c.type == 2)
        await client.send(
            4,
            {"guild_id": str(guild.id), "channel_id": str(voice.id), "self_mute": False,
             "self_deaf": True},
        )  # fmt: skip
        state = await client.recv_dispatch("VOICE_STATE_UPDATE")
        assert state["d"]["user_id"] == str(emu.world.bot.id)
        assert state["d"]["self_deaf"] is True
        server = await client.recv_dispatch("VOICE_SERVER_UPDATE")
        assert server["d"]["guild_id"] == str(guild.id)
        await client.send(31, {"guild_ids": [str(guild.id)]})
        sounds = await client.recv_dispatch("SOUNDBOARD_SOUNDS")
        assert sounds["d"] == {"guild_id": str(guild.id), "soundboard_sounds": []}
        await client.send(43, {"guild_id": str(guild.id), "fields": ["status"]})
        info = await client.recv_dispatch("CHANNEL_INFO")
        assert info["d"]["channels"][0]["id"] == str(voice.id)
        presence = {"since": None, "activities": [], "status": "idle", "afk": False}
        for _ in range(6):
            await client.send(3, presence)
        records = [await emu.wait_for("presence_update", since=i) for i in (0,)]
        assert records
        await client.send(1, None)
        await client.recv_until(lambda p: p["op"] == 11)
        assert [r.get("limited") for r in emu.log.find("presence_update")] == [False] * 5 + [True]


def _fixture_cases() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(FIXTURES.rglob("*.json")):
        name = path.name
        if name.startswith(("voicegw_", "rest_")):
            continue
        value = json.loads(path.read_text())
        if isinstance(value, dict) and "op" in value:
            cases.append((str(path.relative_to(FIXTURES)), value))
        elif not path.with_name(name.replace(".json", ".envelope.json")).exists():
            event = "EMU_FIXTURE_" + path.stem.upper()
            cases.append((name, {"op": 0, "t": event, "s": None, "d": value}))
    return cases


async def test_every_doc_fixture_arrives_intact(connect: Connect, emu: Emulator) -> None:
    """Every envelope/inner fixture of the docs, injected, reaches the client unchanged."""
    cases = _fixture_cases()
    assert len(cases) > 60
    client = await connect()
    await client.ready(intents=ALL)
    for _ in emu.world.guild_ids():
        await client.recv_dispatch("GUILD_CREATE")
    for name, envelope in cases:
        if envelope["op"] == 0:
            assert await emu.dispatch(envelope["t"], envelope["d"]) == 1, name
            got = await client.recv_until(lambda p: p["op"] == 0)
            assert got["t"] == envelope["t"], name
            assert got["d"] == envelope["d"], name
            assert got["s"] == emu.sessions[next(iter(emu.sessions))].seq, name
        else:
            assert emu.faults.send_raw(envelope) == 1, name
            got = await client.recv()
            assert got == envelope, name
