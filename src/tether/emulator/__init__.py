"""tether.emulator: a faithful fake Discord on loopback, for testing gateway clients.

REST under ``/api/v10``, the gateway over real WebSockets (``/`` and ``/resume``), and a
control API under ``/_emulator/``, all on one aiohttp server port. See ``server.py`` for
the entry point, ``faults.py`` for fault injection, ``rest.py`` for REST (rate limits,
REST faults, recorded calls, interactions), ``log.py`` for inspection and
``CONTROL_API.md`` for the HTTP control API.

Imports from tether: only ``tether.wire``, ``tether.models`` and ``tether.errors``.
"""

from __future__ import annotations

from tether.emulator.config import DEFAULT_BOT_ID, DEFAULT_TOKEN, EmulatorConfig
from tether.emulator.faults import FAULT_NAMES, Faults
from tether.emulator.hub import ConnectionScript
from tether.emulator.log import EventLog, LogRecord
from tether.emulator.ratelimit import BucketSpec, RestLimits
from tether.emulator.rest import RestSide
from tether.emulator.restfaults import REST_FAULT_NAMES, RestFaults
from tether.emulator.server import Emulator
from tether.emulator.sessions import BufferedDispatch, Session, SessionState
from tether.emulator.world import World

__all__ = [
    "DEFAULT_BOT_ID",
    "DEFAULT_TOKEN",
    "FAULT_NAMES",
    "REST_FAULT_NAMES",
    "BucketSpec",
    "BufferedDispatch",
    "ConnectionScript",
    "Emulator",
    "EmulatorConfig",
    "EventLog",
    "Faults",
    "LogRecord",
    "RestFaults",
    "RestLimits",
    "RestSide",
    "Session",
    "SessionState",
    "World",
]
