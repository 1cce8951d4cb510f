"""Every transition of a shard's state lives in this file (STYLE habit 2).

The table :data:`TRANSITIONS` maps ``(state, trigger)`` to the next state. Anything not in
it is illegal: :meth:`ShardStateMachine.apply` raises :class:`InvalidTransition` and leaves
the state unchanged. The table knows nothing about sockets or timers.

::

    STOPPED --start--> CONNECTING --hello_identify--> IDENTIFYING --ready--> CONNECTED
                                  --hello_resume----> RESUMING --resumed-----> READY
    CONNECTED --guilds_complete--> READY
    any live state --lost--> BACKOFF --retry--> CONNECTING
    any live state --fatal--> FATALLY_CLOSED
    any live state --stop--> CLOSING --closed--> STOPPED
"""

from __future__ import annotations

import enum

from tether.errors import InvalidState

__all__ = ["TRANSITIONS", "InvalidTransition", "ShardState", "ShardStateMachine", "Trigger"]


class ShardState(enum.Enum):
    """Where a shard is in its life."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    IDENTIFYING = "identifying"
    RESUMING = "resuming"
    CONNECTED = "connected"
    READY = "ready"
    BACKOFF = "waiting_to_reconnect"
    CLOSING = "closing"
    FATALLY_CLOSED = "fatally_closed"


class Trigger(enum.Enum):
    """What can happen to a shard."""

    START = "start"
    HELLO_IDENTIFY = "hello_identify"
    HELLO_RESUME = "hello_resume"
    READY = "ready"
    RESUMED = "resumed"
    GUILDS_COMPLETE = "guilds_complete"
    LOST = "lost"
    RETRY = "retry"
    STOP = "stop"
    CLOSED = "closed"
    FATAL = "fatal"


class InvalidTransition(InvalidState):
    """A trigger that the current state does not allow."""


S = ShardState
T = Trigger
_LIVE = (S.CONNECTING, S.IDENTIFYING, S.RESUMING, S.CONNECTED, S.READY)

TRANSITIONS: dict[tuple[ShardState, Trigger], ShardState] = {
    (S.STOPPED, T.START): S.CONNECTING,
    (S.FATALLY_CLOSED, T.START): S.CONNECTING,
    (S.CONNECTING, T.HELLO_IDENTIFY): S.IDENTIFYING,
    (S.CONNECTING, T.HELLO_RESUME): S.RESUMING,
    (S.IDENTIFYING, T.READY): S.CONNECTED,
    (S.RESUMING, T.RESUMED): S.READY,
    (S.CONNECTED, T.GUILDS_COMPLETE): S.READY,
    (S.BACKOFF, T.RETRY): S.CONNECTING,
    (S.BACKOFF, T.STOP): S.CLOSING,
    (S.BACKOFF, T.FATAL): S.FATALLY_CLOSED,
    (S.CLOSING, T.CLOSED): S.STOPPED,
    (S.CLOSING, T.LOST): S.CLOSING,
    (S.CLOSING, T.STOP): S.CLOSING,
}
for _state in _LIVE:
    TRANSITIONS[(_state, T.LOST)] = S.BACKOFF
    TRANSITIONS[(_state, T.FATAL)] = S.FATALLY_CLOSED
    TRANSITIONS[(_state, T.STOP)] = S.CLOSING
# The guild stream can complete after a resume that happened in the middle of it.
TRANSITIONS[(S.READY, T.GUILDS_COMPLETE)] = S.READY


class ShardStateMachine:
    """Holds one shard's state and applies triggers through :data:`TRANSITIONS`."""

    __slots__ = ("state",)

    def __init__(self, state: ShardState = ShardState.STOPPED) -> None:
        self.state = state

    def apply(self, trigger: Trigger) -> ShardState:
        """Move to the next state and return it.

        Raises:
            InvalidTransition: ``trigger`` is not allowed in the current state (state unchanged).
        """
        nxt = TRANSITIONS.get((self.state, trigger))
        if nxt is None:
            raise InvalidTransition(
                f"{trigger.value!r} is not allowed in state {self.state.value!r}"
            )
        self.state = nxt
        return nxt

    def allows(self, trigger: Trigger) -> bool:
        """Whether ``trigger`` is legal now."""
        return (self.state, trigger) in TRANSITIONS
