"""``tether demo``: the emulator, a sample bot, traffic and faults, with an exact accounting.

Used by the CLI only: the library core never imports this package, and the emulator never
imports it either (it sits above both).
"""

from __future__ import annotations

from tether.demo.faults import ALL_KINDS, GROUPS, KINDS, parse_fault_list
from tether.demo.ledger import Accounting
from tether.demo.report import DemoResult
from tether.demo.runner import DemoOptions, run_demo

__all__ = [
    "ALL_KINDS",
    "GROUPS",
    "KINDS",
    "Accounting",
    "DemoOptions",
    "DemoResult",
    "parse_fault_list",
    "run_demo",
]
