"""The real REST client against the real emulator on loopback (spec 11, 14 A).

The emulator's buckets are real (it answers 429 when one is exceeded), so "no 429" below
is a real assertion. Times are measured and printed, never asserted as a benchmark; the
only time checks are that a 429's ``retry_after`` was waited out (or not imposed on other
buckets), which is the behaviour under test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from tether.emulator import Emulator, LogRecord
from tether.errors import (
    ConfigError,
    Forbidden,
    HTTPError,
    InvalidRequestLimit,
    InvalidState,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from tether.rest import RestClient

from .conftest import MSG, LogSignal

GET_CHANNEL = "GET /channels/{channel_id}"


def contents(calls: list[LogRecord]) -> list[str]:
    return [c.get("body")["content"] for c in calls]


def now() -> float:
    return asyncio.get_running_loop().time()


class TestBurst:
    """Spec 11.2: 500 concurrent creates, on one bucket and spread over many, without a 429."""

    async def test_500_on_one_bucket_keep_their_order(
        self, emu: Emulator, rest: RestClient
    ) -> None:
        emu.rest.set_bucket(MSG, "burst", 25, 0.1)
        channel = emu.world.text_channel_ids()[0]
        started = now()
        sent = await asyncio.gather(*(rest.create_message(channel, f"m{i}") for i in range(500)))
        elapsed = now() - started
        calls = emu.rest.calls(route=MSG)
        assert {c.get("status") for c in calls} == {200}
        assert contents(calls) == [f"m{i}" for i in range(500)]
        assert [m.content for m in sent] == [f"m{i}" for i in range(500)]
        assert [m.id for m in sent] == sorted(m.id for m in sent)
        assert rest.stats.too_many_requests == 0
        print(f"\n500 on one 25/0.1 s bucket: {elapsed:.2f} s (allowance {19 * 0.1:.2f} s)")

    async def test_500_spread_over_many_buckets(self, emu: Emulator, rest: RestClient) -> None:
        emu.rest.set_bucket(MSG, "spread", 25, 0.1)
        channels = emu.world.text_channel_ids()
        assert len(channels) >= 6
        started = now()
        await asyncio.gather(
            *(rest.create_message(channels[i % len(channels)], f"m{i}") for i in range(500))
        )
        elapsed = now() - started
        calls = emu.rest.calls(route=MSG)
        assert {c.get("status") for c in calls} == {200}
        for channel in channels:
            mine = [c for c in calls if c.get("channel_id") == str(channel)]
            expected = [f"m{i}" for i in range(500) if channels[i % len(channels)] == channel]
            assert contents(mine) == expected
        assert rest.stats.too_many_requests == 0
        print(f"\n500 over {len(channels)} buckets, global 200/0.5 s: {elapsed:.2f} s")


class TestTooManyRequests:
    """Spec 11.3: a 429 of each scope is waited out and retried; only its scope waits."""

    @pytest.mark.parametrize("scope", ["user", "global", "shared"])
    async def test_a_forced_429_is_waited_out(
        self, emu: Emulator, rest: RestClient, rest_log: LogSignal, scope: str
    ) -> None:
        a, b = emu.world.text_channel_ids()[:2]
        await asyncio.gather(rest.create_message(a, "warm a"), rest.create_message(b, "warm b"))
        mark = emu.log.mark()
        emu.rest.faults.rate_limit(scope=scope, retry_after=0.3, route=MSG)
        limited = asyncio.ensure_future(rest.create_message(a, "limited"))
        refused = await emu.rest.wait_for_call(since=mark, status=429)
        await rest_log.wait("429 on")  # the client has read it
        other = await rest.create_message(b, "other bucket")
        await limited
        calls = emu.rest.calls(since=mark, route=MSG)
        retried = [c for c in calls if c.get("body")["content"] == "limited"]
        assert [c.get("status") for c in retried] == [429, 200]
        assert retried[1].time - refused.time >= 0.3
        [other_call] = [c for c in calls if c.get("body")["content"] == "other bucket"]
        assert other_call.get("status") == 200
        if scope == "global":
            assert other_call.time - refused.time >= 0.3  # everything paused
        else:
            assert other_call.time - refused.time < 0.3  # only that bucket waited
        assert other.content == "other bucket"
        assert rest.stats.rate_limited == {scope: 1}
        assert rest.limiter.invalid_count(now()) == (0 if scope == "shared" else 1)

    async def test_a_429_longer_than_the_maximum_wait_raises(
        self, emu: Emulator, make_rest: Callable[..., RestClient]
    ) -> None:
        rest = make_rest(max_rate_limit_wait=5.0)
        emu.rest.faults.rate_limit(scope="user", retry_after=100.0, route=MSG)
        with pytest.raises(RateLimited) as caught:
            await rest.create_message(emu.world.text_channel_ids()[0], "never waits 100 s")
        assert caught.value.retry_after == pytest.approx(100.0, abs=0.01)
        assert (caught.value.scope, caught.value.status) == ("user", 429)

    async def test_two_clients_on_one_bucket_recover_from_real_429s(
        self, emu: Emulator, make_rest: Callable[..., RestClient]
    ) -> None:
        """Two processes' worth of clients share a bucket they each think is theirs:
        the emulator's real 429s are waited out and every message arrives, in order."""
        emu.rest.set_bucket(MSG, "contended", 3, 0.2)
        channel = emu.world.text_channel_ids()[0]
        one, two = make_rest(), make_rest()
        await asyncio.gather(
            *(one.create_message(channel, f"one {i}") for i in range(8)),
            *(two.create_message(channel, f"two {i}") for i in range(8)),
        )
        ok = [c for c in emu.rest.calls(route=MSG) if c.get("status") == 200]
        for name in ("one", "two"):
            mine = [text for text in contents(ok) if text.startswith(name)]
            assert mine == [f"{name} {i}" for i in range(8)]
        assert one.stats.too_many_requests + two.stats.too_many_requests > 0
        assert {c.get("scope") for c in emu.rest.calls(status=429)} == {"user"}


class TestBuckets:
    """Spec 11.2: shared buckets and buckets that change are learned from the headers."""

    async def test_routes_sharing_a_bucket_share_its_limit_and_order(
        self, emu: Emulator, rest: RestClient
    ) -> None:
        delete = "DELETE /channels/{channel_id}/messages/{message_id}"
        emu.rest.set_bucket(MSG, "shared", 4, 0.2)
        emu.rest.set_bucket(delete, "shared", 4, 0.2)
        channel = emu.world.text_channel_ids()[0]
        first = await rest.create_message(channel, "discover create")
        await rest.delete_message(channel, first.id)  # discover delete
        assert rest.limiter.bucket_hash(MSG) == rest.limiter.bucket_hash(
            "DELETE /channels/{channel_id}/messages/{message_id}"
        )
        victims = [await emu.send_message(channel, f"victim {i}") for i in range(6)]
        mark = emu.log.mark()
        await asyncio.gather(*(
            coro for i, victim in enumerate(victims)
            for coro in (rest.create_message(channel, f"c{i}"),
                         rest.delete_message(channel, victim["id"]))
        ))  # fmt: skip
        calls = emu.rest.calls(since=mark)
        assert len(calls) == 12
        assert {c.get("status") for c in calls} == {200, 204}
        assert [c.get("method") for c in calls] == ["POST", "DELETE"] * 6  # one queue
        assert rest.stats.too_many_requests == 0

    async def test_a_bucket_that_changes_is_followed(self, emu: Emulator, rest: RestClient) -> None:
        channel = emu.world.text_channel_ids()[0]
        emu.rest.set_bucket(MSG, "before", 5, 0.2)
        await asyncio.gather(*(rest.create_message(channel, f"a{i}") for i in range(7)))
        old = rest.limiter.bucket_hash(MSG)
        emu.rest.set_bucket(MSG, "after", 2, 0.2)
        await asyncio.gather(*(rest.create_message(channel, f"b{i}") for i in range(7)))
        new = rest.limiter.bucket_hash(MSG)
        assert old is not None and new is not None and old != new
        view = rest.limiter.view(MSG, f"channel_id={channel}")
        assert view is not None and view.limit == 2
        assert rest.stats.too_many_requests == 0
        assert contents(emu.rest.calls(route=MSG)) == [f"a{i}" for i in range(7)] + [
            f"b{i}" for i in range(7)
        ]


class TestFailures:
    """5xx, slow answers, typed errors; idempotent requests only are retried."""

    async def test_5xx_is_retried_for_a_get_and_not_for_a_post(
        self, emu: Emulator, rest: RestClient
    ) -> None:
        channel = emu.world.text_channel_ids()[0]
        emu.rest.faults.server_error(502, count=2, route=GET_CHANNEL)
        fetched = await rest.get_channel(channel)
        assert fetched.id == channel
        assert [c.get("status") for c in emu.rest.calls(route=GET_CHANNEL)] == [502, 502, 200]
        emu.rest.faults.server_error(500, route=MSG)
        with pytest.raises(ServerError) as caught:
            await rest.create_message(channel, "maybe sent")
        assert caught.value.status == 500
        assert [c.get("status") for c in emu.rest.calls(route=MSG)] == [500]

    async def test_a_slow_answer_times_out_and_an_idempotent_one_is_retried(
        self, emu: Emulator
    ) -> None:
        rest = RestClient(emu.token, api_url=emu.api_url, timeout=0.2)
        channel = emu.world.text_channel_ids()[0]
        try:
            emu.rest.faults.slow(0.6, route=GET_CHANNEL)
            assert (await rest.get_channel(channel)).id == channel
            emu.rest.faults.slow(0.6, route=MSG)
            with pytest.raises(TimeoutError):
                await rest.create_message(channel, "slow")
        finally:
            await rest.close()
        assert rest.stats.transport_errors == 2

    async def test_typed_errors(
        self, emu: Emulator, rest: RestClient, make_rest: Callable[..., RestClient]
    ) -> None:
        with pytest.raises(NotFound) as unknown:
            await rest.get_channel(1)
        assert (unknown.value.code, unknown.value.message) == (10003, "Unknown Channel")
        channel = emu.world.text_channel_ids()[0]
        emu.rest.faults.forbid_channel(channel)
        with pytest.raises(Forbidden) as forbidden:
            await rest.create_message(channel, "no")
        assert forbidden.value.code == 50013
        with pytest.raises(ConfigError):
            await rest.create_message(channel, "")
        bad = make_rest(token="not-the-token")
        with pytest.raises(Unauthorized):
            await bad.get_current_user()
        with pytest.raises(Unauthorized, match="not sent"):
            await bad.get_channel(channel)  # the token is known bad: nothing more is sent
        assert len(emu.rest.calls(auth="invalid")) == 1  # a 401 is never retried

    async def test_closing_fails_the_requests_still_waiting(
        self, emu: Emulator, rest: RestClient
    ) -> None:
        emu.rest.set_bucket(MSG, "one at a time", 1, 5.0)
        channel = emu.world.text_channel_ids()[0]
        await rest.create_message(channel, "first")
        waiting = asyncio.ensure_future(rest.create_message(channel, "waits for 5 s"))
        await asyncio.sleep(0)  # one step: the task submits and parks behind the empty bucket
        assert rest.limiter.queued == 1
        await rest.close()
        with pytest.raises(InvalidState):
            await waiting
        assert rest.limiter.queued == 0


class TestGuard:
    """Spec 11.4: the client stops before the emulator's invalid-request ban."""

    async def test_the_guard_trips_before_the_ban(
        self, emu: Emulator, make_rest: Callable[..., RestClient]
    ) -> None:
        emu.rest.configure(ban_threshold=30, ban_window_s=600.0)
        rest = make_rest(invalid_limit=20, invalid_window=600.0)
        channel = emu.world.text_channel_ids()[0]
        emu.rest.faults.forbid_channel(channel)
        outcomes: list[type[BaseException]] = []
        for i in range(25):
            try:
                await rest.create_message(channel, f"forbidden {i}")
            except (Forbidden, InvalidRequestLimit) as exc:
                outcomes.append(type(exc))
        assert outcomes == [Forbidden] * 20 + [InvalidRequestLimit] * 5
        assert len(emu.rest.calls(route=MSG)) == 20
        assert emu.rest.state()["invalid_requests"] == 20
        assert not emu.log.find("rest_banned")
        with pytest.raises(InvalidRequestLimit) as caught:
            await rest.get_current_user()  # every route stops, not only the failing one
        assert caught.value.retry_after > 500
        # Without the guard, the emulator bans the address: 403 to everything.
        reckless = make_rest(invalid_limit=10**6)
        for i in range(10):
            with pytest.raises(Forbidden):
                await reckless.create_message(channel, f"reckless {i}")
        assert emu.log.find("rest_banned")
        with pytest.raises(Forbidden) as banned:
            await reckless.get_current_user()
        assert "Cloudflare" in banned.value.message or "1015" in banned.value.message


class TestFairness:
    """Requests queue fairly per bucket; cancelling a waiting request frees its place."""

    async def test_cancelling_a_waiting_request_frees_its_place(
        self, emu: Emulator, rest: RestClient
    ) -> None:
        emu.rest.set_bucket(MSG, "slow bucket", 1, 0.4)
        channel = emu.world.text_channel_ids()[0]
        first = asyncio.ensure_future(rest.create_message(channel, "first"))
        second = asyncio.ensure_future(rest.create_message(channel, "second"))
        third = asyncio.ensure_future(rest.create_message(channel, "third"))
        await first
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second
        await third
        calls = emu.rest.calls(route=MSG)
        assert contents(calls) == ["first", "third"]
        gap = calls[1].time - calls[0].time
        assert 0.4 <= gap < 0.75  # the next window, not the one after it
        assert rest.limiter.queued == 0


class TestEndpoints:
    """Spec 14 A: every endpoint of the client against the emulator, typed results."""

    async def test_bot_guild_channel_member(self, emu: Emulator, rest: RestClient) -> None:
        gateway = await rest.get_gateway_bot()
        assert gateway.url == emu.gateway_url
        assert gateway.session_start_limit.max_concurrency == 1
        me = await rest.get_current_user()
        assert (me.id, me.bot) == (emu.world.bot.id, True)
        guild_id = emu.world.guild_ids()[0]
        guild = await rest.get_guild(guild_id)
        assert guild.name == emu.world.guild(guild_id).name
        channel = await rest.get_channel(emu.world.text_channel_ids(guild_id)[0])
        assert channel.guild_id == guild_id
        member = await rest.get_guild_member(guild_id, me.id)
        assert member.user is not None and member.user.id == me.id
        with pytest.raises(NotFound) as unknown:
            await rest.get_guild_member(guild_id, 1)
        assert unknown.value.code == 10007

    async def test_users_and_history(self, emu: Emulator, rest: RestClient) -> None:
        guild = emu.world.guild(emu.world.guild_ids()[0])
        uid = next(iter(guild.members))
        user = await rest.get_user(uid)
        assert (user.id, user.username) == (uid, guild.members[uid].user.username)
        with pytest.raises(NotFound) as unknown:
            await rest.get_user(1)
        assert unknown.value.code == 10013
        channel = emu.world.text_channel_ids()[0]
        ids = [int((await emu.send_message(channel, f"h{n}"))["id"]) for n in range(6)]
        page = await rest.get_channel_messages(channel, limit=3)
        assert [m.id for m in page] == ids[:-4:-1]
        assert [m.content for m in page] == ["h5", "h4", "h3"]
        older = await rest.get_channel_messages(channel, before=page[-1].id, limit=100)
        assert [m.id for m in older] == ids[2::-1]
        newer = await rest.get_channel_messages(channel, after=ids[0], limit=2)
        assert [m.id for m in newer] == [ids[2], ids[1]]
        for bad in ({"limit": 0}, {"limit": 101}, {"before": 1, "after": 2}):
            with pytest.raises(ConfigError):
                await rest.get_channel_messages(channel, **bad)  # type: ignore[arg-type]

    async def test_message_lifecycle(self, emu: Emulator, rest: RestClient) -> None:
        channel = emu.world.text_channel_ids()[0]
        ping = await emu.send_message(channel, "!ping")
        mark = emu.log.mark()
        reply = await rest.create_message(
            channel, "pong", message_reference=int(ping["id"]),
            allowed_mentions={"parse": [], "replied_user": False}, embeds=[{"title": "t"}],
        )  # fmt: skip
        assert (reply.type, reply.referenced_message_id) == (19, int(ping["id"]))
        assert reply.embeds == ({"title": "t"},)
        edited = await rest.edit_message(channel, reply.id, content="pong!")
        assert (edited.content, edited.embeds) == ("pong!", ({"title": "t"},))
        assert edited.edited_timestamp is not None
        await rest.add_reaction(channel, reply.id, "👍")
        await rest.trigger_typing(channel)
        await rest.delete_message(channel, reply.id)
        with pytest.raises(NotFound):
            await rest.get_message(channel, reply.id)
        dispatched = [r.get("t") for r in emu.log.find("dispatch", since=mark)]
        assert dispatched == [
            "MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_REACTION_ADD", "TYPING_START",
            "MESSAGE_DELETE",
        ]  # fmt: skip
        assert emu.rest.bot_messages(channel) == []

    async def test_a_reply_to_an_unknown_message_is_refused(
        self, emu: Emulator, rest: RestClient
    ) -> None:
        channel = emu.world.text_channel_ids()[0]
        with pytest.raises(HTTPError) as caught:
            await rest.create_message(channel, "x", message_reference=12345)
        error = caught.value
        assert (error.status, error.code) == (400, 50035)
        assert "message_reference" in error.errors
