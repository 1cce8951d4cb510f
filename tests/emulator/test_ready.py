"""READY and the guild stream (spec 4.2-4.4, 9; checklist 14 D24-D29, I57)."""

from __future__ import annotations

from tether.emulator import Emulator

from .rawclient import Connect

GUILDS = 1
PRESENCES = 1 << 8
ALL = 0x331FFFF


class TestReady:
    """Spec 4.2 / 14 D24: READY at s=1 with the documented fields."""

    async def test_ready_shape(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        ready = await client.ready()
        assert ready["op"] == 0
        assert ready["s"] == 1
        d = ready["d"]
        assert d["v"] == 10
        assert d["user"]["id"] == str(emu.world.bot.id)
        assert d["user"]["bot"] is True
        assert d["guilds"] == [{"id": str(g), "unavailable": True} for g in emu.world.guild_ids()]
        assert d["session_id"] in emu.sessions
        assert d["resume_gateway_url"] == emu.resume_gateway_url != emu.gateway_url
        assert d["application"] == {"id": str(emu.world.application_id), "flags": 0}
        assert d["private_channels"] == []
        assert isinstance(d["_trace"], list)
        assert "shard" not in d

    async def test_shard_routing_and_echo(self, connect: Connect, emu: Emulator) -> None:
        seen: set[str] = set()
        for shard_id in range(2):
            client = await connect()
            ready = await client.ready(shard=[shard_id, 2])
            assert ready["d"]["shard"] == [shard_id, 2]
            ids = {g["id"] for g in ready["d"]["guilds"]}
            assert all((int(g) >> 22) % 2 == shard_id for g in ids)
            seen |= ids
        assert seen == {str(g) for g in emu.world.guild_ids()}

    async def test_ready_padding_over_one_mib(self, connect: Connect, emu: Emulator) -> None:
        emu.config.ready_padding_bytes = 1_100_000
        client = await connect()
        ready = await client.ready()
        assert len(ready["d"]["_emulator_padding"]) == 1_100_000


class TestGuildStream:
    """Spec 4.3, 4.4, 10.3 / 14 D25: one full GUILD_CREATE per guild after READY."""

    async def test_guild_create_shape(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready()
        creates = [await client.recv_dispatch("GUILD_CREATE") for _ in emu.world.guild_ids()]
        assert [c["s"] for c in creates] == [2, 3, 4]
        d = creates[0]["d"]
        guild = emu.world.guild(d["id"])
        assert d["unavailable"] is False
        assert d["member_count"] == guild.member_count
        assert d["large"] is False
        assert any(r["id"] == d["id"] and r["name"] == "@everyone" for r in d["roles"])
        assert all("guild_id" not in c for c in d["channels"])
        assert {c["type"] for c in d["channels"]} == {0, 2, 4}
        for key in (
            "joined_at", "members", "presences", "voice_states", "threads", "stage_instances",
            "guild_scheduled_events", "soundboard_sounds",
        ):  # fmt: skip
            assert key in d
        assert len(d["members"]) == guild.member_count  # small guild, presences intent
        assert all("user" in m for m in d["members"])

    async def test_members_trimmed_without_presences(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready(intents=GUILDS)
        d = (await client.recv_dispatch("GUILD_CREATE"))["d"]
        guild = emu.world.guild(d["id"])
        listed = {m["user"]["id"] for m in d["members"]}
        allowed = {str(emu.world.bot.id)} | {
            str(m.user.id) for m in guild.members.values() if m.voice_channel_id is not None
        }
        assert listed <= allowed
        assert str(emu.world.bot.id) in listed

    async def test_large_guild_lists_only_notable_members(self, emu: Emulator) -> None:
        from tether.emulator.payloads import guild_create_payload

        guild = emu.world.guild(emu.world.guild_ids()[0])
        d = guild_create_payload(
            guild, bot_id=emu.world.bot.id, intents=GUILDS | PRESENCES, large_threshold=5
        )
        assert d["large"] is True
        for member in d["members"]:
            m = guild.members[int(member["user"]["id"])]
            assert m.user.bot or m.status != "offline" or m.roles or m.nick or m.voice_channel_id

    async def test_no_guilds_intent_no_guild_create(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready(intents=1 << 9)
        await emu.wait_for("guild_stream_done")
        await emu.dispatch("EMU_MARK", {})
        marker = await client.recv_dispatch("EMU_MARK")
        assert marker["s"] == 2

    async def test_payload_compression(self, connect: Connect, emu: Emulator) -> None:
        """Spec 7.3 / 14 I57: IDENTIFY compress:true, no transport compression."""
        client = await connect()
        await client.hello()
        await client.identify(compress=True)
        ready = await client.recv_dispatch("READY")
        assert ready["s"] == 1
        await client.recv_dispatch("GUILD_CREATE")
        assert client.messages[-1][0] == "binary"
        assert client.messages[0][0] == "text"  # HELLO
        await client.send(1, 2)
        await client.recv_until(lambda p: p["op"] == 11)
        assert client.messages[-1][0] == "text"


class TestGuildFaults:
    """Spec 4.3 / 14 D26, D27, D29: outages, recovery, never-streamed, join and leave."""

    async def test_outage_modes_and_recovery(self, connect: Connect, emu: Emulator) -> None:
        first, second, third = emu.world.guild_ids()
        emu.faults.guild_outage(first, mode="delete")
        emu.faults.guild_outage(second, mode="create_unavailable")
        emu.faults.never_stream(third)
        client = await connect()
        await client.ready()
        deleted = await client.recv_until(lambda p: p["op"] == 0)
        assert deleted["t"] == "GUILD_DELETE"
        assert deleted["d"] == {"id": str(first), "unavailable": True}
        partial = await client.recv_dispatch("GUILD_CREATE")
        assert partial["d"] == {"id": str(second), "unavailable": True}
        await emu.wait_for("guild_stream_done")
        assert emu.faults.guild_recover(first) == 1
        full = await client.recv_dispatch("GUILD_CREATE")
        assert full["d"]["id"] == str(first)
        assert full["d"]["unavailable"] is False
        assert emu.faults.guild_outage(first, now=True) == 1
        gone = await client.recv_dispatch("GUILD_DELETE")
        assert gone["d"] == {"id": str(first), "unavailable": True}
        assert not any(p["d"].get("id") == str(third) for p in client.payloads if p["op"] == 0)

    async def test_join_and_leave(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        ready = await client.ready()
        await emu.wait_for("guild_stream_done")
        guild, count = await emu.join_guild("New Place")
        assert count == 1
        joined = await client.recv_until(
            lambda p: p["t"] == "GUILD_CREATE" and p["d"]["id"] == str(guild.id)
        )
        assert joined["d"]["name"] == "New Place"
        assert str(guild.id) not in {g["id"] for g in ready["d"]["guilds"]}
        assert await emu.leave_guild(guild.id) == 1
        left = await client.recv_dispatch("GUILD_DELETE")
        assert left["d"] == {"id": str(guild.id)}

    async def test_delayed_and_held_ready_keep_acking(
        self, connect: Connect, emu: Emulator
    ) -> None:
        emu.faults.next_connection(hold_ready=True)
        client = await connect()
        await client.hello()
        await client.identify()
        await emu.wait_for("fault", name="ready_held")
        await client.send(1, None)
        assert (await client.recv())["op"] == 11
        assert emu.faults.release_ready() == 1
        assert (await client.recv_dispatch("READY"))["s"] == 1
        emu.faults.next_connection(ready_delay_s=0.1)
        late = await connect()
        await late.hello()
        await late.identify()
        await late.recv_dispatch("READY")
        identify_time = emu.log.find("identify")[-1].time
        ready_time = emu.log.find("ready")[-1].time
        assert ready_time - identify_time >= 0.1

    async def test_guild_create_delay_and_shuffle(self, connect: Connect, emu: Emulator) -> None:
        emu.config.guild_create_delay_s = 0.02
        emu.config.guild_create_shuffle = True
        client = await connect()
        await client.ready()
        ids = [(await client.recv_dispatch("GUILD_CREATE"))["d"]["id"] for _ in range(3)]
        assert sorted(ids) == sorted(str(g) for g in emu.world.guild_ids())


async def test_large_guild_from_many_members() -> None:
    """Spec 4.4 / 14 F39: a guild over large_threshold is ``large`` and its list trimmed."""
    async with Emulator(guilds=1, members_per_guild=120) as emu:
        guild = emu.world.guild(emu.world.guild_ids()[0])
        from tether.emulator.payloads import guild_create_payload

        d = guild_create_payload(guild, bot_id=emu.world.bot.id, intents=ALL, large_threshold=50)
        assert d["large"] is True
        assert d["member_count"] == 121
        assert 0 < len(d["members"]) < 121
