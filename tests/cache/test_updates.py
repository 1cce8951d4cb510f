"""Cache.update for every dispatch of spec section 10 that touches the cache, with no socket.

Each class covers one section of the spec and says so. Payloads come from ``builders``.
"""

from __future__ import annotations

import datetime

import pytest

from tether.cache import Cache, CacheFlags
from tether.gateway.events import Dispatch
from tether.models import Member
from tether.wire.codec import Frame
from tether.wire.intents import Intents

from .builders import (
    BOT,
    GUILD,
    channel,
    guild_create,
    member,
    message,
    ready,
    role,
    thread,
    user,
)

G2 = GUILD + (1 << 22)


def started(*creates: dict[str, object], cache: Cache | None = None) -> Cache:
    """A cache after READY and the given GUILD_CREATEs (one default guild if none)."""
    cache = cache or Cache()
    creates = creates or (guild_create(),)
    cache.apply("READY", ready(*(int(str(c["id"])) for c in creates)))
    for create in creates:
        cache.apply("GUILD_CREATE", create)
    return cache


class TestFeeding:
    """STYLE habit 8: update(event) is passive; lifecycle events and unknown names cost nothing."""

    def test_update_takes_gateway_dispatches(self) -> None:
        cache = Cache()
        frame = Frame.build(0, guild_create(), s=2, t="GUILD_CREATE")
        cache.update(Dispatch(shard_id=0, name="GUILD_CREATE", seq=2, frame=frame))
        assert cache.guild(GUILD) is not None

    def test_lifecycle_and_unknown_events_are_ignored(self) -> None:
        cache = Cache()
        cache.update(object())
        cache.apply("TYPING_START", {"channel_id": "1"})
        cache.apply("SOMETHING_NEW", {"x": 1})
        assert cache.counts()["guilds"] == 0 and cache.ignored == 0

    def test_an_undecodable_body_is_counted_not_raised(self) -> None:
        cache = started()
        cache.apply("GUILD_ROLE_CREATE", b'{"guild_id": "1", "role": ')
        cache.apply("CHANNEL_CREATE", {"id": {"nested": True}})
        assert cache.ignored == 2


class TestReadyAndGuildStream:
    """Spec 4.3 and 10.3: READY, GUILD_CREATE (full and unavailable), GUILD_UPDATE, GUILD_DELETE."""

    def test_ready_seeds_unavailable_guilds_and_the_bot(self) -> None:
        cache = Cache()
        cache.apply("READY", ready(GUILD, G2))
        assert cache.unavailable_guilds == {GUILD, G2}
        assert cache.me is not None and cache.me.bot and cache.me.id == BOT
        assert cache.guilds == {}

    def test_guild_create_keeps_every_part(self) -> None:
        create = guild_create(
            members=[member(BOT), member(5, roles=(GUILD + 9,), nick="five")],
            roles=[role(GUILD, "@everyone"), role(GUILD + 9, "mod")],
            channels=[channel(GUILD + 1), channel(GUILD + 2, "voice", type=2)],
            threads=[thread(GUILD + 3, GUILD + 1)],
            presences=[{"user": {"id": "5"}, "status": "idle", "client_status": {"web": "idle"}}],
            voice_states=[{"user_id": "5", "channel_id": str(GUILD + 2), "session_id": "x"}],
        )
        cache = started(create)
        guild = cache.guild(GUILD)
        assert guild is not None and not guild.unavailable
        assert set(guild.roles) == {GUILD, GUILD + 9} and guild.roles[GUILD + 9].name == "mod"
        assert set(guild.channels) == {GUILD + 1, GUILD + 2, GUILD + 3}
        assert all(c.guild_id == GUILD for c in guild.channels.values())  # filled in
        assert [t.id for t in guild.threads] == [GUILD + 3]
        five = guild.members[5]
        assert five.nick == "five" and five.roles == (GUILD + 9,) and five.user is cache.users[5]
        assert five.joined_at == datetime.datetime(2021, 6, 1, 10, tzinfo=datetime.UTC)
        assert guild.presences[5].status == "idle"
        assert guild.presences[5].client_status is not None
        assert guild.voice_states[5].channel_id == GUILD + 2
        assert cache.unavailable_guilds == set()
        assert cache.channel(GUILD + 3) is guild.channels[GUILD + 3]

    def test_unavailable_guild_create_and_outage_delete_keep_the_data(self) -> None:
        cache = started()
        cache.apply("GUILD_DELETE", {"id": str(GUILD), "unavailable": True})
        guild = cache.guild(GUILD)
        assert guild is not None and guild.unavailable and GUILD in cache.unavailable_guilds
        cache.apply("GUILD_CREATE", {"id": str(GUILD), "unavailable": True})
        assert cache.guild(GUILD) is guild and guild.members
        cache.apply("GUILD_CREATE", guild_create(name="Back"))
        recovered = cache.guild(GUILD)
        assert recovered is not None and not recovered.unavailable and recovered.name == "Back"
        assert cache.unavailable_guilds == set()

    def test_guild_delete_without_unavailable_removes_everything(self) -> None:
        cache = started(guild_create(members=[member(BOT), member(5)]))
        cache.apply("MESSAGE_CREATE", message(9, GUILD + 1, 5))
        cache.apply("GUILD_DELETE", {"id": str(GUILD)})
        assert cache.guild(GUILD) is None
        assert cache.channel(GUILD + 1) is None
        assert cache.users == {} and cache.messages == {}

    def test_guild_update_merges_top_level_fields_only(self) -> None:
        cache = started(guild_create(members=[member(BOT), member(5)]))
        update = {"id": str(GUILD), "name": "Renamed", "owner_id": "5", "features": ["NEWS"]}
        cache.apply("GUILD_UPDATE", {**update, "roles": [role(GUILD, "@everyone", color=3)]})
        guild = cache.guild(GUILD)
        assert guild is not None
        assert (guild.name, guild.owner_id, guild.features) == ("Renamed", 5, ("NEWS",))
        assert set(guild.members) == {BOT, 5} and guild.channels  # kept
        assert guild.roles[GUILD].color == 3

    def test_guild_update_for_an_unknown_guild_is_ignored(self) -> None:
        cache = Cache()
        cache.apply("GUILD_UPDATE", {"id": "5", "name": "x"})
        assert cache.guilds == {}


class TestReidentify:
    """Spec 4.3 and 10.3: a new session replaces each guild as its GUILD_CREATE arrives."""

    def test_ready_of_a_new_session_keeps_data_until_replaced(self) -> None:
        cache = started(guild_create(members=[member(BOT), member(5)]))
        old = cache.guild(GUILD)
        cache.apply("READY", ready(GUILD))
        assert cache.guild(GUILD) is old and old is not None and old.unavailable
        assert set(old.members) == {BOT, 5}  # no wipe

    def test_a_new_stream_replaces_the_guild_and_drops_what_is_gone(self) -> None:
        first = guild_create(
            members=[member(BOT), member(5), member(6)],
            channels=[channel(GUILD + 1), channel(GUILD + 2)],
        )
        cache = started(first)
        cache.apply("READY", ready(GUILD))
        second = guild_create(
            name="New", members=[member(BOT), member(6, nick="six")], channels=[channel(GUILD + 2)]
        )
        cache.apply("GUILD_CREATE", second)
        guild = cache.guild(GUILD)
        assert guild is not None and guild.name == "New" and not guild.unavailable
        assert set(guild.members) == {BOT, 6} and guild.members[6].nick == "six"
        assert set(cache.users) == {BOT, 6}
        assert cache.user_refs(6) == 1  # the old member's reference was given back
        assert cache.channel(GUILD + 1) is None and cache.channel(GUILD + 2) is not None

    def test_guilds_of_the_shard_missing_from_the_new_ready_are_dropped(self) -> None:
        cache = started(guild_create(GUILD), guild_create(G2))
        cache.apply("READY", ready(G2))
        assert cache.guild(GUILD) is None and cache.guild(G2) is not None

    def test_other_shards_guilds_survive_a_ready(self) -> None:
        cache = Cache()
        cache.apply("READY", ready(GUILD, shard=[0, 2]), shard_id=0)
        cache.apply("GUILD_CREATE", guild_create(GUILD), shard_id=0)
        cache.apply("READY", ready(G2, shard=[1, 2]), shard_id=1)
        cache.apply("GUILD_CREATE", guild_create(G2), shard_id=1)
        cache.apply("READY", ready(shard=[1, 2]), shard_id=1)
        assert cache.guild(GUILD) is not None and cache.guild(G2) is None


class TestRoles:
    """Spec 10.4: GUILD_ROLE_CREATE / UPDATE / DELETE."""

    def test_create_update_delete(self) -> None:
        cache = started(guild_create(members=[member(BOT), member(5, roles=(7, 8))]))
        cache.apply("GUILD_ROLE_CREATE", {"guild_id": str(GUILD), "role": role(7, "a")})
        cache.apply("GUILD_ROLE_UPDATE", {"guild_id": str(GUILD), "role": role(7, "b")})
        assert cache.role(GUILD, 7) is not None and cache.role(GUILD, 7).name == "b"  # type: ignore[union-attr]
        cache.apply("GUILD_ROLE_DELETE", {"guild_id": str(GUILD), "role_id": "7"})
        assert cache.role(GUILD, 7) is None
        five = cache.member(GUILD, 5)
        assert five is not None and five.roles == (8,)

    def test_permissions_are_ints(self) -> None:
        cache = started()
        cache.apply(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(GUILD), "role": role(7, permissions="4503599627370495")},
        )
        assert cache.role(GUILD, 7).permissions == 4503599627370495  # type: ignore[union-attr]


class TestChannelsAndThreads:
    """Spec 10.5: channels, pins, threads, thread lists and thread members."""

    def test_channel_create_update_delete(self) -> None:
        cache = started()
        cache.apply("CHANNEL_CREATE", channel(50, "news", guild_id=str(GUILD)))
        cache.apply("CHANNEL_UPDATE", channel(50, "renamed", guild_id=str(GUILD), topic="t"))
        guild = cache.guild(GUILD)
        assert guild is not None and guild.channels[50].name == "renamed"
        assert cache.channel(50) is guild.channels[50] and guild.channels[50].topic == "t"
        cache.apply("CHANNEL_PINS_UPDATE", {"channel_id": "50", "last_pin_timestamp": JOINED_TS})
        assert guild.channels[50].last_pin_timestamp is not None
        cache.apply("CHANNEL_DELETE", channel(50, guild_id=str(GUILD)))
        assert 50 not in guild.channels and cache.channel(50) is None

    def test_deleting_a_channel_drops_its_threads(self) -> None:
        cache = started(guild_create(channels=[channel(50)], threads=[thread(51, 50)]))
        cache.apply("CHANNEL_DELETE", channel(50, guild_id=str(GUILD)))
        assert cache.channel(51) is None

    def test_thread_create_update_delete(self) -> None:
        cache = started()
        created = thread(
            60, GUILD + 1, "t", newly_created=True, member={"join_timestamp": JOINED_TS, "flags": 1}
        )
        cache.apply("THREAD_CREATE", created)
        assert cache.channel(60) is not None and cache.channel(60).member is not None  # type: ignore[union-attr]
        cache.apply("THREAD_UPDATE", thread(60, GUILD + 1, "renamed"))
        updated = cache.channel(60)
        assert updated is not None and updated.name == "renamed"
        assert updated.member is not None  # the bot's membership survives an update
        payload = {"id": "60", "guild_id": str(GUILD), "parent_id": str(GUILD + 1), "type": 11}
        cache.apply("THREAD_DELETE", payload)
        assert cache.channel(60) is None

    def test_thread_list_sync_replaces_threads_of_the_listed_channels(self) -> None:
        threads = [thread(61, 50), thread(62, 51), thread(63, 50)]
        cache = started(guild_create(channels=[channel(50), channel(51)], threads=threads))
        sync = {
            "guild_id": str(GUILD),
            "channel_ids": ["50"],
            "threads": [thread(64, 50)],
            "members": [{"id": "64", "user_id": str(BOT), "join_timestamp": JOINED_TS, "flags": 0}],
        }
        cache.apply("THREAD_LIST_SYNC", sync)
        guild = cache.guild(GUILD)
        assert guild is not None
        assert {t.id for t in guild.threads} == {62, 64}
        assert guild.channels[64].member is not None

    def test_thread_list_sync_without_channel_ids_covers_the_guild(self) -> None:
        cache = started(guild_create(channels=[channel(50)], threads=[thread(61, 50)]))
        cache.apply("THREAD_LIST_SYNC", {"guild_id": str(GUILD), "threads": [], "members": []})
        assert cache.channel(61) is None

    def test_thread_member_and_members_update(self) -> None:
        cache = started(guild_create(channels=[channel(50)], threads=[thread(61, 50)]))
        cache.apply(
            "THREAD_MEMBER_UPDATE",
            {
                "id": "61",
                "guild_id": str(GUILD),
                "user_id": str(BOT),
                "join_timestamp": JOINED_TS,
                "flags": 2,
            },
        )
        assert cache.channel(61).member.flags == 2  # type: ignore[union-attr]
        cache.apply(
            "THREAD_MEMBERS_UPDATE",
            {
                "id": "61",
                "guild_id": str(GUILD),
                "member_count": 7,
                "removed_member_ids": [str(BOT)],
            },
        )
        thread_now = cache.channel(61)
        assert thread_now is not None and thread_now.member_count == 7 and thread_now.member is None


class TestMembers:
    """Spec 10.6 and 10.7: members, member_count, chunks; users are shared."""

    def test_add_update_remove_and_member_count(self) -> None:
        cache = started()
        cache.apply("GUILD_MEMBER_ADD", {**member(5), "guild_id": str(GUILD)})
        guild = cache.guild(GUILD)
        assert guild is not None and guild.member_count == 2 and 5 in guild.members
        cache.apply("GUILD_MEMBER_ADD", {**member(5), "guild_id": str(GUILD)})  # repeated
        assert guild.member_count == 2
        update = {
            "guild_id": str(GUILD),
            "user": user(5, "renamed"),
            "roles": ["9"],
            "nick": "n",
            "joined_at": JOINED_TS,
            "communication_disabled_until": JOINED_TS,
        }
        cache.apply("GUILD_MEMBER_UPDATE", update)
        five = guild.members[5]
        assert (five.nick, five.roles, five.user.username) == ("n", (9,), "renamed")
        assert five.communication_disabled_until is not None and five.extra is not None
        assert not five.deaf  # absent in the update: unchanged
        cache.apply("GUILD_MEMBER_REMOVE", {"guild_id": str(GUILD), "user": user(5)})
        assert 5 not in guild.members and guild.member_count == 1 and 5 not in cache.users

    def test_member_update_for_a_member_not_yet_kept_adds_it(self) -> None:
        cache = started()
        cache.apply("GUILD_MEMBER_UPDATE", {"guild_id": str(GUILD), "user": user(6), "roles": []})
        assert cache.member(GUILD, 6) is not None

    def test_users_are_shared_across_guilds_and_released_with_the_last_member(self) -> None:
        cache = started(
            guild_create(GUILD, members=[member(BOT), member(5)]),
            guild_create(G2, members=[member(BOT), member(5)]),
        )
        one, two = cache.member(GUILD, 5), cache.member(G2, 5)
        assert one is not None and two is not None and one.user is two.user
        assert cache.user_refs(5) == 2
        cache.apply("GUILD_MEMBER_UPDATE", {"guild_id": str(GUILD), "user": user(5, "new")})
        assert two.user.username == "new"
        cache.apply("GUILD_MEMBER_REMOVE", {"guild_id": str(GUILD), "user": user(5)})
        assert 5 in cache.users
        cache.apply("GUILD_MEMBER_REMOVE", {"guild_id": str(G2), "user": user(5)})
        assert 5 not in cache.users

    def test_members_with_the_same_roles_share_one_tuple(self) -> None:
        cache = started(guild_create(members=[member(5, roles=(7, 8)), member(6, roles=(7, 8))]))
        five, six = cache.member(GUILD, 5), cache.member(GUILD, 6)
        assert five is not None and six is not None and five.roles is six.roles

    def test_members_chunk_adds_members_and_presences(self) -> None:
        cache = started()
        chunk = {
            "guild_id": str(GUILD),
            "members": [member(5), member(6)],
            "chunk_index": 0,
            "chunk_count": 1,
            "presences": [{"user": {"id": "5"}, "status": "dnd"}],
        }
        cache.apply("GUILD_MEMBERS_CHUNK", chunk)
        guild = cache.guild(GUILD)
        assert guild is not None and {5, 6} <= set(guild.members)
        assert guild.presences[5].status == "dnd"

    def test_rarely_set_member_fields_live_in_extra(self) -> None:
        cache = started(guild_create(members=[member(5), member(6, deaf=True, avatar="a")]))
        five, six = cache.member(GUILD, 5), cache.member(GUILD, 6)
        assert five is not None and five.extra is None
        assert six is not None and six.deaf and six.avatar == "a"
        six.set(deaf=False, avatar=None)
        assert six.extra is None


class TestMessages:
    """Spec 10.8: MESSAGE_CREATE / UPDATE (partial) / DELETE / DELETE_BULK; bounded."""

    def test_create_update_delete(self) -> None:
        cache = started(guild_create(members=[member(BOT), member(5)]))
        cache.apply("MESSAGE_CREATE", message(100, GUILD + 1, 5, mentions=[user(BOT)]))
        kept = cache.message(100)
        assert kept is not None and kept.author is cache.users[5] and kept.mentions == (BOT,)
        channel_now = cache.channel(GUILD + 1)
        assert channel_now is not None and channel_now.last_message_id == 100
        cache.apply(
            "MESSAGE_UPDATE", {"id": "100", "channel_id": str(GUILD + 1), "content": "edited"}
        )
        assert kept.content == "edited" and not kept.pinned and kept.timestamp is not None
        cache.apply("MESSAGE_UPDATE", {"id": "100", "channel_id": str(GUILD + 1), "pinned": True})
        assert kept.content == "edited" and kept.pinned
        cache.apply("MESSAGE_DELETE", {"id": "100", "channel_id": str(GUILD + 1)})
        assert cache.message(100) is None

    def test_bulk_delete(self) -> None:
        cache = started()
        for mid in (1, 2, 3):
            cache.apply("MESSAGE_CREATE", message(mid, GUILD + 1, BOT))
        cache.apply("MESSAGE_DELETE_BULK", {"ids": ["1", "3"], "channel_id": str(GUILD + 1)})
        assert list(cache.messages) == [2]

    def test_the_cache_is_bounded_and_authors_are_released(self) -> None:
        cache = started(cache=Cache(message_cache_size=2))
        for mid in (1, 2, 3):
            cache.apply("MESSAGE_CREATE", message(mid, GUILD + 1, 500 + mid))
        assert list(cache.messages) == [2, 3]
        assert 501 not in cache.users and {502, 503} <= set(cache.users)

    def test_size_zero_keeps_none_and_says_so(self) -> None:
        cache = started(cache=Cache(message_cache_size=0))
        cache.apply("MESSAGE_CREATE", message(1, GUILD + 1, BOT))
        assert cache.messages == {}
        assert CacheFlags.MESSAGES in cache.explain()

    def test_the_author_member_is_kept_from_a_message(self) -> None:
        cache = started()
        partial = {k: v for k, v in member(7, nick="seven").items() if k != "user"}
        cache.apply("MESSAGE_CREATE", message(1, GUILD + 1, 7, member=partial))
        seven = cache.member(GUILD, 7)
        assert seven is not None and seven.nick == "seven" and seven.user.id == 7


class TestPresenceVoiceSelf:
    """Spec 10.9, 10.10, 10.12: PRESENCE_UPDATE (partial user), VOICE_STATE_UPDATE, USER_UPDATE."""

    def test_presence_with_only_a_user_id(self) -> None:
        cache = started(guild_create(members=[member(BOT), member(5)]))
        cache.apply(
            "PRESENCE_UPDATE",
            {
                "user": {"id": "5"},
                "guild_id": str(GUILD),
                "status": "online",
                "activities": [{"name": "chess", "type": 0}],
            },
        )
        assert cache.users[5].username == "user5"  # untouched
        presence = cache.presence(GUILD, 5)
        assert presence is not None and presence.activities[0].name == "chess"
        cache.apply(
            "PRESENCE_UPDATE",
            {
                "user": {"id": "5", "username": "x", "global_name": None},
                "guild_id": str(GUILD),
                "status": "offline",
            },
        )
        assert cache.users[5].username == "x" and cache.presence(GUILD, 5) is None

    def test_identical_presences_are_one_shared_record(self) -> None:
        presences = [
            {"user": {"id": str(u)}, "status": "online", "client_status": {"desktop": "online"}}
            for u in (5, 6)
        ]
        cache = started(guild_create(members=[member(5), member(6)], presences=presences))
        guild = cache.guild(GUILD)
        assert guild is not None and guild.presences[5] is guild.presences[6]

    def test_voice_state_join_move_leave(self) -> None:
        cache = started(guild_create(members=[member(BOT), member(5)]))
        state = {
            "guild_id": str(GUILD),
            "user_id": "5",
            "channel_id": "77",
            "session_id": "v",
            "member": member(5, nick="in voice"),
            "self_mute": True,
        }
        cache.apply("VOICE_STATE_UPDATE", state)
        kept = cache.voice_state(GUILD, 5)
        assert kept is not None and kept.channel_id == 77 and kept.self_mute
        assert cache.member(GUILD, 5).nick == "in voice"  # type: ignore[union-attr]
        cache.apply("VOICE_STATE_UPDATE", {**state, "channel_id": None})
        assert cache.voice_state(GUILD, 5) is None

    def test_user_update_changes_the_bot_everywhere(self) -> None:
        cache = started(guild_create(members=[member(BOT)]))
        cache.apply("USER_UPDATE", user(BOT, "renamed-bot", bot=True))
        assert cache.me is not None and cache.me.username == "renamed-bot"
        assert cache.users[BOT].username == "renamed-bot"


class TestFlagsAndIntents:
    """CacheFlags choose what is kept; a missing intent leaves a part empty and says why."""

    def test_structure_only(self) -> None:
        cache = started(
            guild_create(members=[member(BOT), member(5)]), cache=Cache(CacheFlags.STRUCTURE)
        )
        guild = cache.guild(GUILD)
        assert guild is not None and guild.channels and guild.roles
        assert guild.members == {} and cache.users == {}
        assert not cache.handles("GUILD_MEMBER_ADD")
        assert "CacheFlags.MEMBERS is not set" in cache.explain()[CacheFlags.MEMBERS]

    def test_a_missing_intent_empties_its_part_and_explains(self) -> None:
        intents = Intents.GUILDS | Intents.GUILD_MESSAGES
        cache = started(
            guild_create(members=[member(BOT), member(5)]), cache=Cache(intents=intents)
        )
        assert cache.guild(GUILD).members == {}  # type: ignore[union-attr]
        reasons = cache.explain()
        assert "GUILD_MEMBERS" in reasons[CacheFlags.MEMBERS]
        assert "GUILD_PRESENCES" in reasons[CacheFlags.PRESENCES]
        assert CacheFlags.MESSAGES not in reasons

    def test_no_guilds_flag_keeps_no_guild_part(self) -> None:
        cache = started(cache=Cache(CacheFlags.MEMBERS | CacheFlags.MESSAGES))
        assert cache.guilds == {} and cache.kept == CacheFlags.MESSAGES

    @pytest.mark.parametrize("flags", [CacheFlags.NONE, CacheFlags.ALL, CacheFlags.STRUCTURE])
    def test_member_requests_are_gathered_whatever_is_kept(self, flags: CacheFlags) -> None:
        cache = started(cache=Cache(flags))
        cache.member_requests.open(GUILD, "n")
        cache.apply(
            "GUILD_MEMBERS_CHUNK",
            {
                "guild_id": str(GUILD),
                "members": [member(5)],
                "chunk_index": 0,
                "chunk_count": 1,
                "nonce": "n",
            },
        )
        [result] = cache.member_requests.take()
        assert isinstance(result.members[0], Member)  # type: ignore[union-attr]


JOINED_TS = "2021-06-01T10:00:00.000000+00:00"
