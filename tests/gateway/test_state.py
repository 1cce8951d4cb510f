"""The shard state table (gateway/state.py; spec 1.4 client state machine, STYLE habit 2)."""

from __future__ import annotations

import itertools

import pytest

from tether.errors import InvalidState
from tether.gateway.state import (
    TRANSITIONS,
    InvalidTransition,
    ShardState,
    ShardStateMachine,
    Trigger,
)

from .helpers import raises_redacted

S = ShardState
T = Trigger
LIVE = (S.CONNECTING, S.IDENTIFYING, S.RESUMING, S.CONNECTED, S.READY)

#: The table written out independently of state.py, from its docstring and spec 1.4.
EXPECTED: dict[tuple[ShardState, Trigger], ShardState] = {
    (S.STOPPED, T.START): S.CONNECTING,
    (S.FATALLY_CLOSED, T.START): S.CONNECTING,
    (S.CONNECTING, T.HELLO_IDENTIFY): S.IDENTIFYING,
    (S.CONNECTING, T.HELLO_RESUME): S.RESUMING,
    (S.IDENTIFYING, T.READY): S.CONNECTED,
    (S.RESUMING, T.RESUMED): S.READY,
    (S.CONNECTED, T.GUILDS_COMPLETE): S.READY,
    (S.READY, T.GUILDS_COMPLETE): S.READY,
    (S.BACKOFF, T.RETRY): S.CONNECTING,
    (S.BACKOFF, T.STOP): S.CLOSING,
    (S.BACKOFF, T.FATAL): S.FATALLY_CLOSED,
    (S.CLOSING, T.CLOSED): S.STOPPED,
    (S.CLOSING, T.LOST): S.CLOSING,
    (S.CLOSING, T.STOP): S.CLOSING,
    **{(state, T.LOST): S.BACKOFF for state in LIVE},
    **{(state, T.FATAL): S.FATALLY_CLOSED for state in LIVE},
    **{(state, T.STOP): S.CLOSING for state in LIVE},
}

ALL_PAIRS = list(itertools.product(ShardState, Trigger))


class TestTransitionTable:
    """Spec 1.4 (the [EMU] client state machine) as one table: every (state, trigger) pair."""

    def test_table_is_exactly_the_documented_one(self) -> None:
        assert TRANSITIONS == EXPECTED

    def test_table_mentions_only_enum_members(self) -> None:
        for (state, trigger), target in TRANSITIONS.items():
            assert isinstance(state, ShardState)
            assert isinstance(trigger, Trigger)
            assert isinstance(target, ShardState)

    @pytest.mark.parametrize(("state", "trigger"), ALL_PAIRS, ids=lambda v: v.name)
    def test_every_pair_transitions_or_raises_leaving_state_unchanged(
        self, state: ShardState, trigger: Trigger
    ) -> None:
        machine = ShardStateMachine(state)
        target = EXPECTED.get((state, trigger))
        assert machine.allows(trigger) is (target is not None)
        if target is None:
            with raises_redacted(InvalidTransition, match=trigger.value):
                machine.apply(trigger)
            assert machine.state is state
        else:
            assert machine.apply(trigger) is target
            assert machine.state is target

    def test_invalid_transition_is_a_local_misuse_error(self) -> None:
        assert issubclass(InvalidTransition, InvalidState)
        assert issubclass(InvalidTransition, AssertionError)

    def test_every_state_is_reachable_from_stopped(self) -> None:
        seen = {S.STOPPED}
        frontier = [S.STOPPED]
        while frontier:
            state = frontier.pop()
            for (source, _), target in TRANSITIONS.items():
                if source is state and target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert seen == set(ShardState)

    def test_every_state_can_get_back_to_stopped(self) -> None:
        for start in ShardState:
            seen = {start}
            frontier = [start]
            while frontier:
                state = frontier.pop()
                for (source, _), target in TRANSITIONS.items():
                    if source is state and target not in seen:
                        seen.add(target)
                        frontier.append(target)
            assert S.STOPPED in seen, start

    def test_new_machine_starts_stopped(self) -> None:
        assert ShardStateMachine().state is S.STOPPED


class TestDocumentedPaths:
    """Spec 1.4 paths, as drawn in the docstring of gateway/state.py."""

    @staticmethod
    def walk(*triggers: Trigger, start: ShardState = S.STOPPED) -> list[ShardState]:
        machine = ShardStateMachine(start)
        return [machine.apply(trigger) for trigger in triggers]

    def test_identify_path(self) -> None:
        assert self.walk(T.START, T.HELLO_IDENTIFY, T.READY, T.GUILDS_COMPLETE) == [
            S.CONNECTING,
            S.IDENTIFYING,
            S.CONNECTED,
            S.READY,
        ]

    def test_resume_path(self) -> None:
        assert self.walk(T.START, T.HELLO_RESUME, T.RESUMED) == [
            S.CONNECTING,
            S.RESUMING,
            S.READY,
        ]

    def test_guild_stream_may_complete_after_a_mid_stream_resume(self) -> None:
        path = self.walk(T.START, T.HELLO_IDENTIFY, T.READY, T.LOST, T.RETRY)
        path += self.walk(T.HELLO_RESUME, T.RESUMED, T.GUILDS_COMPLETE, start=path[-1])
        assert path[-3:] == [S.RESUMING, S.READY, S.READY]

    @pytest.mark.parametrize("live", LIVE, ids=lambda v: v.name)
    def test_lost_then_retry_from_every_live_state(self, live: ShardState) -> None:
        assert self.walk(T.LOST, T.RETRY, start=live) == [S.BACKOFF, S.CONNECTING]

    @pytest.mark.parametrize("live", [*LIVE, S.BACKOFF], ids=lambda v: v.name)
    def test_fatal_from_every_live_state_and_restart(self, live: ShardState) -> None:
        assert self.walk(T.FATAL, T.START, start=live) == [S.FATALLY_CLOSED, S.CONNECTING]

    @pytest.mark.parametrize("live", [*LIVE, S.BACKOFF], ids=lambda v: v.name)
    def test_stop_from_every_live_state(self, live: ShardState) -> None:
        assert self.walk(T.STOP, T.LOST, T.STOP, T.CLOSED, start=live) == [
            S.CLOSING,
            S.CLOSING,
            S.CLOSING,
            S.STOPPED,
        ]

    def test_illegal_trigger_mid_path_keeps_the_state(self) -> None:
        machine = ShardStateMachine()
        machine.apply(T.START)
        machine.apply(T.HELLO_IDENTIFY)
        with raises_redacted(InvalidTransition):
            machine.apply(T.RESUMED)  # RESUMED never answers an IDENTIFY
        assert machine.state is S.IDENTIFYING
        assert machine.apply(T.READY) is S.CONNECTED
