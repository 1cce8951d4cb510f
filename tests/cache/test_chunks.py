"""MemberRequests: gathering GUILD_MEMBERS_CHUNK by nonce (spec 2.10, 2.16, 10.7), pure."""

from __future__ import annotations

from tether.cache import MemberRequests, MembersRateLimited, MembersResult
from tether.models import Member, User

GUILD = 41771983423143937


def members(*ids: int) -> list[Member]:
    return [Member(user=User(id=i, username=f"u{i}")) for i in ids]


class TestGathering:
    """Spec 10.7: done when every chunk_index 0..chunk_count-1 arrived, in any order."""

    def test_chunks_in_any_order_finish_once(self) -> None:
        requests = MemberRequests()
        requests.open(GUILD, "n")
        for index, ids in ((2, (5,)), (0, (1, 2)), (1, (3, 4))):
            assert requests.chunk(
                guild_id=GUILD, nonce="n", index=index, count=3, members=members(*ids)
            )
            if index != 1:
                assert requests.take() == []
        [result] = requests.take()
        assert isinstance(result, MembersResult)
        assert [m.user.id for m in result.members] == [1, 2, 3, 4, 5]
        assert result.chunk_count == 3 and len(requests) == 0

    def test_duplicates_and_out_of_range_indexes_are_ignored(self) -> None:
        requests = MemberRequests()
        requests.open(GUILD, "n")
        requests.chunk(guild_id=GUILD, nonce="n", index=0, count=2, members=members(1))
        requests.chunk(guild_id=GUILD, nonce="n", index=0, count=2, members=members(9))
        requests.chunk(guild_id=GUILD, nonce="n", index=7, count=2, members=members(8))
        assert requests.progress("n").chunks_received == 1  # type: ignore[union-attr]
        requests.chunk(guild_id=GUILD, nonce="n", index=1, count=2, members=members(2))
        [result] = requests.take()
        assert [m.user.id for m in result.members] == [1, 2]  # type: ignore[union-attr]

    def test_not_found_and_presences_are_collected(self) -> None:
        requests = MemberRequests()
        requests.open(GUILD, "n")
        requests.chunk(
            guild_id=GUILD, nonce="n", index=0, count=1, members=members(1), not_found=[123, 456]
        )
        [result] = requests.take()
        assert result.not_found == (123, 456)  # type: ignore[union-attr]

    def test_an_empty_answer_is_one_empty_chunk(self) -> None:
        requests = MemberRequests()
        requests.open(GUILD, "n")
        requests.chunk(guild_id=GUILD, nonce="n", index=0, count=1, members=[])
        [result] = requests.take()
        assert result.members == ()  # type: ignore[union-attr]

    def test_unknown_or_missing_nonces_and_other_guilds_are_not_ours(self) -> None:
        requests = MemberRequests()
        requests.open(GUILD, "n")
        assert not requests.chunk(guild_id=GUILD, nonce=None, index=0, count=1, members=[])
        assert not requests.chunk(guild_id=GUILD, nonce="x", index=0, count=1, members=[])
        assert not requests.chunk(guild_id=GUILD + 1, nonce="n", index=0, count=1, members=[])
        assert requests.take() == [] and len(requests) == 1


class TestEndings:
    """Spec 2.16 (RATE_LIMITED) and 2.10 (silence: the caller times out and cancels)."""

    def test_rate_limited_ends_the_request(self) -> None:
        requests = MemberRequests()
        requests.open(GUILD, "n")
        assert requests.rate_limited(guild_id=GUILD, nonce="n", retry_after=27.5)
        assert requests.take() == [MembersRateLimited(guild_id=GUILD, nonce="n", retry_after=27.5)]
        assert not requests.rate_limited(guild_id=GUILD, nonce="n", retry_after=1)

    def test_cancel_reports_progress(self) -> None:
        requests = MemberRequests()
        requests.open(GUILD, "n")
        requests.chunk(guild_id=GUILD, nonce="n", index=0, count=4, members=members(1, 2))
        progress = requests.cancel("n")
        assert progress is not None
        assert (progress.chunks_received, progress.chunk_count, progress.members_received) == (
            1,
            4,
            2,
        )
        assert requests.cancel("n") is None
        assert not requests.chunk(guild_id=GUILD, nonce="n", index=1, count=4, members=[])

    def test_a_nonce_cannot_be_opened_twice(self) -> None:
        requests = MemberRequests()
        requests.open(GUILD, "n")
        try:
            requests.open(GUILD, "n")
        except ValueError:
            pass
        else:
            raise AssertionError("reopened")
