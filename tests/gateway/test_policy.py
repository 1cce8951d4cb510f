"""The close policy (gateway/policy.py): spec 5.4 (dead connections), 5.5 (close code table)
and 5.6 (the decision procedure), with the decisions of section 15."""

from __future__ import annotations

import dataclasses

import pytest

from tether.gateway.policy import CLOSE_POLICY, Action, Initiator, Verdict, decide
from tether.wire.close_codes import ABNORMAL_CLOSURE, RESUMABLE_CLIENT_CLOSE, CloseCode

FATAL = frozenset({4004, 4010, 4011, 4012, 4013, 4014})
REIDENTIFY = frozenset({4003, 4007, 4009})

#: Spec 5.5 "Client action" column, row by row, plus 4006 and the 1000/1001 decision (15.2).
TABLE_5_5 = [
    (4000, Action.RESUME),
    (4001, Action.RESUME),
    (4002, Action.RESUME),
    (4003, Action.REIDENTIFY),
    (4004, Action.FATAL),
    (4005, Action.RESUME),
    (4006, Action.RESUME),  # "There is no gateway code 4006": unknown, so resume
    (4007, Action.REIDENTIFY),
    (4008, Action.RESUME),
    (4009, Action.REIDENTIFY),
    (4010, Action.FATAL),
    (4011, Action.FATAL),
    (4012, Action.FATAL),
    (4013, Action.FATAL),
    (4014, Action.FATAL),
    (1000, Action.RESUME),  # server 1000/1001: try a resume, op 9 tells otherwise (15.2)
    (1001, Action.RESUME),
]


class TestCloseCodeTable:
    """Spec 5.5: gateway close codes and what the client does on each."""

    @pytest.mark.parametrize(("code", "action"), TABLE_5_5)
    def test_server_close_row(self, code: int, action: Action) -> None:
        assert decide(Initiator.SERVER, code) is action

    def test_fatal_codes_are_exactly_the_six(self) -> None:
        assert {c for c, a in CLOSE_POLICY.items() if a is Action.FATAL} == FATAL

    def test_reidentify_codes_are_exactly_the_three(self) -> None:
        assert {c for c, a in CLOSE_POLICY.items() if a is Action.REIDENTIFY} == REIDENTIFY

    def test_every_other_code_in_the_table_resumes(self) -> None:
        for code, action in CLOSE_POLICY.items():
            if code not in FATAL | REIDENTIFY:
                assert action is Action.RESUME, code

    def test_table_covers_every_named_close_code(self) -> None:
        assert set(CLOSE_POLICY) == {int(c) for c in CloseCode}
        assert 4006 not in CLOSE_POLICY

    def test_policy_never_says_stop(self) -> None:
        # STOP is the user's decision (close()); no close code from the server means it.
        assert Action.STOP not in CLOSE_POLICY.values()

    @pytest.mark.parametrize("code", [4015, 4999, 3000, 1002, 1011, 0, 65535])
    def test_unknown_server_codes_resume(self, code: int) -> None:
        assert decide(Initiator.SERVER, code) is Action.RESUME


class TestDeadConnections:
    """Spec 5.4: a connection that died without a close frame (None / 1006) is resumed."""

    @pytest.mark.parametrize("code", [None, ABNORMAL_CLOSURE])
    def test_transport_drop_resumes(self, code: int | None) -> None:
        assert decide(Initiator.TRANSPORT, code) is Action.RESUME

    @pytest.mark.parametrize("code", [None, ABNORMAL_CLOSURE])
    def test_server_without_close_code_resumes(self, code: int | None) -> None:
        assert decide(Initiator.SERVER, code) is Action.RESUME

    @pytest.mark.parametrize("code", sorted(FATAL | REIDENTIFY))
    def test_transport_initiator_ignores_gateway_semantics(self, code: int) -> None:
        # Only a close frame *from the gateway* carries the gateway's meaning.
        assert decide(Initiator.TRANSPORT, code) is Action.RESUME


class TestDecisionProcedure:
    """Spec 5.6: the client's own closes keep the session (5.3: never 1000/1001 to reconnect)."""

    @pytest.mark.parametrize("code", [None, RESUMABLE_CLIENT_CLOSE, 4004, 4009])
    def test_client_initiated_close_resumes(self, code: int | None) -> None:
        assert decide(Initiator.CLIENT, code) is Action.RESUME

    def test_resumable_client_close_code_is_not_1000_or_1001(self) -> None:
        assert RESUMABLE_CLIENT_CLOSE == 4000

    def test_verdict_is_a_frozen_value_object(self) -> None:
        verdict = Verdict(action=Action.RESUME, code=4000, initiator=Initiator.CLIENT, reason="x")
        assert verdict == Verdict(
            action=Action.RESUME, code=4000, initiator=Initiator.CLIENT, reason="x", wait=0.0
        )
        with pytest.raises(dataclasses.FrozenInstanceError):
            verdict.wait = 1.0  # type: ignore[misc]
        with pytest.raises(TypeError):
            Verdict(Action.RESUME, 4000, Initiator.CLIENT, "x")  # type: ignore[call-arg]
