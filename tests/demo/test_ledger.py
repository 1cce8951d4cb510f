"""The demo's accounting on hand-made records: delivered, lost, gap, reported or not."""

from __future__ import annotations

from tether.demo.ledger import Ledger, LossWindow, SentMessage, ServerFacts, account

OLD, NEW = "old-session", "new-session"


def facts(**changes: object) -> ServerFacts:
    base: dict[str, object] = dict(
        resumed_at={}, invalidated_at={OLD: 10.0}, acked_seq={}, held_session=NEW, sent_at={}
    )
    base.update(changes)
    return ServerFacts(**base)  # type: ignore[arg-type]


def ledger_with(*messages: SentMessage, received: tuple[int, ...] = ()) -> Ledger:
    ledger = Ledger()
    for message in messages:
        ledger.record_sent(message)
    for message_id in received:
        ledger.record_received(message_id)
    return ledger


def test_received_messages_are_delivered_and_repeats_are_duplicates() -> None:
    ledger = ledger_with(
        SentMessage(1, 1, 1.0, ((NEW, 5),)),
        SentMessage(2, 2, 2.0, ((NEW, 6),)),
        received=(1, 2, 2),
    )
    result = account(ledger, facts())
    assert (result.delivered, result.lost, result.duplicated, result.gap_events) == (2, 0, 1, 0)
    assert result.duplicated_ids == [2]


def test_a_missing_message_of_a_resumed_or_held_session_is_lost() -> None:
    ledger = ledger_with(
        SentMessage(1, 1, 5.0, ((OLD, 7),)),  # OLD was resumed after it was queued
        SentMessage(2, 2, 6.0, ((NEW, 3),)),  # NEW is the session the client still holds
        SentMessage(3, 3, 7.0, (("detached", 2),)),  # never invalidated: still owed
    )
    result = account(ledger, facts(resumed_at={OLD: [5.5]}))
    assert result.lost == 3 and result.gap_events == 0
    assert result.lost_ids == [1, 2, 3]


def test_a_message_the_client_acknowledged_is_lost_even_if_the_session_died() -> None:
    ledger = ledger_with(SentMessage(1, 1, 5.0, ((OLD, 7),)), SentMessage(2, 2, 5.1, ((OLD, 8),)))
    ledger.record_window(LossWindow(OLD, last_seq=7, since=5.05, until=12.0))
    result = account(ledger, facts(acked_seq={OLD: 6}))
    assert result.lost_ids == [1]  # seq 7 <= last_seq 7: the client says it handled it
    assert result.gap_events == 1 and result.unreported_gaps == 0


def test_gap_events_must_fall_inside_a_reported_window() -> None:
    ledger = ledger_with(
        SentMessage(1, 1, 10.5, ()),  # no session existed: inside the window
        SentMessage(2, 2, 20.0, ()),  # no session, and no window covers it
    )
    ledger.record_window(LossWindow(OLD, last_seq=3, since=10.0, until=11.0))
    result = account(ledger, facts())
    assert (result.gap_events, result.unreported_gaps) == (2, 1)
    assert result.unreported_ids == [2]
    assert result.gaps_within(10.0, 11.0) == 1


def test_a_gap_sent_while_the_last_event_was_in_flight_counts_as_reported() -> None:
    # seq 3 of OLD was dispatched at 9.9 and received at 10.0 (since); the session died at
    # 9.95 and message 2 went nowhere at 9.97: after seq 3, so inside what was reported.
    ledger = ledger_with(
        SentMessage(1, 1, 9.9, ((OLD, 3),)), SentMessage(2, 2, 9.97, ()), received=(1,)
    )
    ledger.record_window(LossWindow(OLD, last_seq=3, since=10.0, until=11.0))
    result = account(ledger, facts(invalidated_at={OLD: 9.95}))
    assert (result.gap_events, result.unreported_gaps, result.gaps_before_since) == (1, 0, 1)
    # without the anchor (last_seq unknown to the emulator) the strict window applies
    ledger.windows[0] = LossWindow(OLD, last_seq=99, since=10.0, until=11.0)
    assert account(ledger, facts(invalidated_at={OLD: 9.95})).unreported_gaps == 1
