"""Session state that survives sockets (gateway/session.py): spec 5.1 (what a resume needs)
and 4.5 (the guild-stream bookkeeping behind the ready rule)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tether.gateway.session import GuildStream, LostSession, Session, SessionSnapshot

from .helpers import RESUME_URL, SESSION_ID, TOKEN_TEXT


class TestResumableSession:
    """Spec 5.1: a resume needs session_id, resume_gateway_url and the last s."""

    def test_fresh_session_is_not_resumable(self) -> None:
        session = Session()
        assert not session.resumable
        assert session.snapshot() is None

    def test_needs_a_sequence_number(self) -> None:
        session = Session()
        session.begin(session_id=SESSION_ID, resume_url=RESUME_URL, user={}, now=1.0)
        assert session.snapshot() is None  # no seq yet: not resumable
        session.seq = 1
        assert session.resumable
        assert session.snapshot() == SessionSnapshot(
            session_id=SESSION_ID, seq=1, resume_url=RESUME_URL
        )

    def test_snapshot_round_trips_through_json_without_the_token(self) -> None:
        session = Session(session_id=SESSION_ID, seq=42, resume_url=RESUME_URL)
        snap = session.snapshot()
        assert snap is not None
        text = json.dumps(snap.to_dict())
        assert TOKEN_TEXT not in text
        assert set(snap.to_dict()) == {"session_id", "seq", "resume_url"}
        again = SessionSnapshot.from_dict(json.loads(text))
        assert again == snap

    def test_restore_resumes_and_considers_the_stream_complete(self) -> None:
        snap = SessionSnapshot(session_id=SESSION_ID, seq=9, resume_url=RESUME_URL)
        session = Session.restore(snap)
        assert session.resumable
        assert (session.session_id, session.seq, session.resume_url) == (SESSION_ID, 9, RESUME_URL)
        assert session.ready_fired
        assert session.stream.complete

    def test_clear_remembers_the_lost_session_once(self) -> None:
        session = Session(session_id="first", seq=7, resume_url=RESUME_URL, last_event_at=12.5)
        session.clear("op 9")
        assert not session.resumable
        assert (session.session_id, session.seq, session.resume_url) == (None, None, None)
        assert session.lost == LostSession("first", 7, 12.5, "op 9")
        session.session_id = "second"
        session.clear("again")
        assert session.lost == LostSession("first", 7, 12.5, "op 9")

    def test_clear_without_a_session_records_nothing(self) -> None:
        session = Session()
        session.clear("nothing to lose")
        assert session.lost is None

    def test_snapshot_is_frozen(self) -> None:
        snap = SessionSnapshot(session_id="a", seq=1, resume_url="u")
        with pytest.raises(dataclasses.FrozenInstanceError):
            snap.seq = 2  # type: ignore[misc]


class TestGuildStreamBookkeeping:
    """Spec 4.3/4.5: pending ids, unavailable ids, available again, joined guilds."""

    def test_start_marks_every_guild_pending_and_unavailable(self) -> None:
        stream = GuildStream()
        stream.start([1, 2, 3], now=5.0)
        assert stream.pending == {1, 2, 3}
        assert stream.unavailable == {1, 2, 3}
        assert (stream.expected, stream.received, stream.last_activity) == (3, 0, 5.0)
        assert not stream.complete

    def test_create_and_delete_of_pending_ids_count(self) -> None:
        stream = GuildStream()
        stream.start([1, 2, 3, 4], now=0.0)
        assert not stream.guild_created(1, available=True, now=1.0)
        assert not stream.guild_created(2, available=False, now=2.0)
        assert not stream.guild_deleted(3, unavailable=True, now=3.0)
        assert not stream.guild_deleted(4, unavailable=False, now=4.0)
        assert stream.pending == set()
        assert stream.received == 4
        assert stream.unavailable == {2, 3}
        assert stream.last_activity == 4.0
        assert 4 not in stream.known

    def test_non_pending_events_do_not_reset_the_idle_gap(self) -> None:
        stream = GuildStream()
        stream.start([1], now=0.0)
        stream.guild_created(99, available=True, now=8.0)  # a guild joined mid-stream
        assert stream.last_activity == 0.0
        assert stream.received == 0

    def test_recovery_after_completion_is_reported(self) -> None:
        stream = GuildStream()
        stream.start([1, 2], now=0.0)
        stream.guild_created(1, available=True, now=1.0)
        stream.guild_created(2, available=False, now=1.0)
        stream.complete = True
        assert stream.guild_created(2, available=True, now=30.0)
        assert not stream.guild_created(2, available=True, now=31.0)  # already available
        assert not stream.guild_created(77, available=True, now=32.0)  # joined, not recovered

    def test_going_unavailable_is_reported_once(self) -> None:
        stream = GuildStream()
        stream.start([1], now=0.0)
        stream.guild_created(1, available=True, now=1.0)
        assert stream.guild_deleted(1, unavailable=True, now=2.0)
        assert not stream.guild_deleted(1, unavailable=True, now=3.0)


class TestUnreadablePayloads:
    """A payload the client cannot read is replayed by every RESUME: count repeats per spot."""

    def test_counts_in_a_row_at_the_same_seq(self) -> None:
        session = Session(session_id=SESSION_ID, seq=7, resume_url=RESUME_URL)
        assert [session.note_unreadable() for _ in range(3)] == [1, 2, 3]

    def test_moving_on_starts_over(self) -> None:
        session = Session(session_id=SESSION_ID, seq=7, resume_url=RESUME_URL)
        session.note_unreadable()
        session.note_unreadable()
        session.seq = 8  # a dispatch was read since: a one-off fault, not a poisoned replay
        assert session.note_unreadable() == 1
        session.session_id = "another"
        assert session.note_unreadable() == 1
