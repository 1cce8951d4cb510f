"""What the client does when a connection ends: one table, one pure function.

Spec sections 5.1, 5.5 and 5.6. Every close code the gateway documents maps to exactly
one :class:`Action`; unknown codes (4006 included) and drops without a close frame resume.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CLOSE_POLICY", "Action", "Initiator", "Verdict", "decide"]


class Action(enum.Enum):
    """What to do after a connection ends."""

    RESUME = "resume"
    """Reconnect to the resume URL and RESUME (IDENTIFY when no session is held)."""
    REIDENTIFY = "reidentify"
    """Drop the session, reconnect to the base URL and IDENTIFY."""
    FATAL = "fatal"
    """Stop with a typed error; retrying cannot help."""
    STOP = "stop"
    """The user asked to stop."""


class Initiator(enum.Enum):
    """Who ended the connection."""

    SERVER = "server"
    CLIENT = "client"
    TRANSPORT = "transport"


#: The gateway close code table (spec 5.5, with the decisions of section 15).
CLOSE_POLICY: dict[int, Action] = {
    1000: Action.RESUME,  # server 1000/1001: undocumented; try a resume, op 9 tells otherwise
    1001: Action.RESUME,
    4000: Action.RESUME,
    4001: Action.RESUME,
    4002: Action.RESUME,
    4003: Action.REIDENTIFY,
    4004: Action.FATAL,
    4005: Action.RESUME,
    4007: Action.REIDENTIFY,
    4008: Action.RESUME,
    4009: Action.REIDENTIFY,
    4010: Action.FATAL,
    4011: Action.FATAL,
    4012: Action.FATAL,
    4013: Action.FATAL,
    4014: Action.FATAL,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The decision about one ended connection."""

    action: Action
    code: int | None
    initiator: Initiator
    reason: str
    #: Seconds to wait before reconnecting that the protocol itself demands (op 9 false),
    #: on top of (not instead of) the reconnect backoff.
    wait: float = 0.0
    #: For FATAL verdicts that are not close codes: the error to stop with.
    error: BaseException | None = None


def decide(initiator: Initiator, code: int | None) -> Action:
    """The action for a connection that ended with ``code`` (None: no close frame).

    A server close is looked up in :data:`CLOSE_POLICY` (unknown codes resume).
    A transport failure resumes. A client-initiated close is always a resume
    (the client never closes with 1000/1001 unless it is stopping for good).
    """
    if initiator is Initiator.SERVER and code is not None:
        return CLOSE_POLICY.get(code, Action.RESUME)
    return Action.RESUME
