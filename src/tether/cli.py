"""The ``tether`` command: ``tether demo``, ``tether chaos`` and ``tether emulator``.

The library never prints; this module is where output happens (plain text, no colours).
``python -m tether.cli`` works like the console script.

Ctrl-C (SIGINT) or SIGTERM ends either command cleanly: the demo stops injecting faults,
lets the bot settle, stops it and the emulator and prints its summary; the emulator closes
every socket and frees its port. A second signal cancels at once (still closing sockets).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

__all__ = ["build_parser", "main"]

#: Exit status when the run was interrupted but nothing else failed (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: Exit status for bad command-line arguments (argparse's own convention).
EXIT_USAGE = 2

_EMULATOR_FEED = frozenset(
    {"connect", "identify", "identify_rejected", "resume", "resume_rejected", "close_sent",
     "close_received", "disconnect", "fault", "session_invalidated"}
)  # fmt: skip


def _say(line: str = "") -> None:
    print(line, flush=True)


# ---------------------------------------------------------------------------------- parsing


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _fault_list(text: str) -> tuple[str, ...]:
    from tether.demo import parse_fault_list

    try:
        return parse_fault_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _chaos_fault_list(text: str) -> tuple[str, ...]:
    from tether.demo.chaos_faults import parse_chaos_faults

    try:
        return parse_chaos_faults(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _loopback_host(text: str) -> str:
    host = "127.0.0.1" if text == "localhost" else text
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address; the emulator binds loopback addresses only"
        ) from None
    if not address.is_loopback:
        raise argparse.ArgumentTypeError(
            f"{text} is not a loopback address: the emulator accepts a known token and has no "
            "TLS, so it only listens on 127.0.0.0/8"
        )
    if address.version != 4:
        raise argparse.ArgumentTypeError("IPv6 is not supported yet: use 127.0.0.1")
    return host


def build_parser() -> argparse.ArgumentParser:
    """The ``tether`` argument parser (``tether demo``, ``tether emulator``)."""
    from tether.demo import ALL_KINDS, GROUPS

    parser = argparse.ArgumentParser(
        prog="tether",
        description="tether: an asyncio Discord gateway client, and its local Discord emulator.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="log tether's and the emulator's messages to stderr (-vv: debug)",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="run the emulator and a sample bot on loopback, inject faults, account for events",
        description=(
            "Start the emulator and a sample bot on 127.0.0.1, stream MESSAGE_CREATE, inject "
            "one fault at a time (each once the bot is READY again) and account for every "
            "message: delivered, lost, duplicated, or a gap the bot reported. Exits non-zero "
            "if a message was lost or doubled, a gap went unreported, a recovery got stuck, "
            "or the bot was not ready at the end."
        ),
        epilog=("fault kinds: " + ", ".join(ALL_KINDS) + ". groups: " + ", ".join(GROUPS) + "."),
    )
    demo.add_argument(
        "--duration",
        type=_positive_float,
        default=30.0,
        metavar="SECONDS",
        help="seconds of traffic and faults (default 30)",
    )
    demo.add_argument(
        "--guilds",
        type=_int_at_least(1),
        default=5,
        metavar="N",
        help="guilds in the emulated world (default 5)",
    )
    demo.add_argument(
        "--faults",
        type=_fault_list,
        default=ALL_KINDS,
        metavar="all|LIST",
        help="fault kinds to cycle through, comma-separated (default all)",
    )
    demo.add_argument(
        "--rate",
        type=_non_negative_float,
        default=50.0,
        metavar="EVENTS_PER_S",
        help="MESSAGE_CREATE per second (default 50)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the world and of the bot's randomness (default 0)",
    )
    demo.add_argument(
        "--heartbeat-ms",
        type=_int_at_least(100),
        default=1000,
        metavar="N",
        help="heartbeat interval the emulator asks for (default 1000)",
    )
    demo.add_argument(
        "--stuck-after",
        type=_positive_float,
        default=30.0,
        metavar="SECONDS",
        help="a recovery taking longer counts as stuck (default 30)",
    )
    demo.add_argument(
        "--json",
        action="store_true",
        help="end with the summary as one JSON object on the last line",
    )
    demo.add_argument("--quiet", action="store_true", help="no live status, only the summary")

    _add_chaos(commands)

    emulator = commands.add_parser(
        "emulator",
        help="run the Discord emulator standalone until Ctrl-C",
        description=(
            "Serve REST, the gateway and the control API of a fake Discord on a loopback "
            "port until Ctrl-C or SIGTERM."
        ),
    )
    emulator.add_argument(
        "--host",
        type=_loopback_host,
        default="127.0.0.1",
        help="loopback address to bind (default 127.0.0.1)",
    )
    emulator.add_argument(
        "--port",
        type=_int_at_least(0),
        default=0,
        metavar="N",
        help="port to bind (default 0: any free port)",
    )
    emulator.add_argument(
        "--guilds",
        type=_int_at_least(0),
        default=3,
        metavar="N",
        help="guilds in the emulated world (default 3)",
    )
    emulator.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the world (default 0)"
    )
    emulator.add_argument(
        "--token",
        default=None,
        metavar="T",
        help="the bot token to accept (default: the emulator's own)",
    )
    emulator.add_argument(
        "--heartbeat-ms",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="heartbeat interval sent in HELLO (default 41250)",
    )
    emulator.add_argument(
        "--quiet",
        action="store_true",
        help="do not print connections, sessions and faults as they happen",
    )
    return parser


def _add_chaos(commands: Any) -> None:
    from tether.demo.chaos_faults import CHAOS_GROUPS, CHAOS_KINDS

    chaos = commands.add_parser(
        "chaos",
        help="a chaos soak: random faults and storms, invariants checked, a reliability report",
        description=(
            "Run the emulator and a client (in a process of its own) for a duration, draw "
            "faults and storms from the whole catalogue with a seeded RNG while events "
            "stream, and check after every burst that the client is READY again within a "
            "bound. At the end: no event of a resumed session lost, doubled or out of "
            "order, every re-identify reported as SessionLost, no task or thread left after "
            "stop(), RSS flat, the token in no log record. Exits non-zero on any violated "
            "invariant and prints the command that replays the seed."
        ),
        epilog=("fault kinds: " + ", ".join(CHAOS_KINDS) + ". groups: "
                + ", ".join(CHAOS_GROUPS) + "."),
    )  # fmt: skip
    chaos.add_argument(
        "--duration",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="seconds of traffic and faults (default 60)",
    )
    chaos.add_argument(
        "--faults",
        type=_chaos_fault_list,
        default=tuple(CHAOS_KINDS),
        metavar="all|LIST",
        help="fault kinds to draw from (default all)",
    )
    chaos.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the draws, the world and the client (default 0)",
    )
    chaos.add_argument(
        "--shards",
        type=_int_at_least(1),
        default=1,
        metavar="N",
        help="shards the client runs (default 1: unsharded)",
    )
    chaos.add_argument(
        "--rate",
        type=_non_negative_float,
        default=50.0,
        metavar="EVENTS_PER_S",
        help="MESSAGE_CREATE per second (default 50)",
    )
    chaos.add_argument(
        "--storms",
        type=float,
        default=0.35,
        metavar="P",
        help="probability that a burst is a storm of 2-7 faults (default 0.35)",
    )
    chaos.add_argument(
        "--stuck-after",
        type=_positive_float,
        default=15.0,
        metavar="SECONDS",
        help="READY later than this after a burst counts as stuck (default 15)",
    )
    chaos.add_argument(
        "--max-rss-growth",
        type=_non_negative_float,
        default=5.0,
        metavar="PCT",
        help="RSS growth allowed after warm-up (default 5)",
    )
    chaos.add_argument(
        "--status-every",
        type=_non_negative_float,
        default=5.0,
        metavar="SECONDS",
        help="live status period (default 5; 0: none)",
    )
    chaos.add_argument(
        "--compress",
        choices=["zlib-stream", "zstd-stream", "none"],
        default="zlib-stream",
        help="the client's transport compression (default zlib-stream)",
    )
    chaos.add_argument(
        "--no-pin-malloc",
        action="store_true",
        help="leave glibc's mmap threshold dynamic in the client process (its RSS then keeps "
        "the high-water mark of big payloads)",
    )
    chaos.add_argument(
        "--json",
        action="store_true",
        help="end with the report as one JSON object on the last line",
    )
    chaos.add_argument("--quiet", action="store_true", help="no live status, only the summary")


# ---------------------------------------------------------------------------------- signals


@contextlib.contextmanager
def _stop_signals(first: Callable[[], None]) -> Any:
    """Call ``first`` on the first SIGINT/SIGTERM; cancel the running task on the second."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    count = 0

    def on_signal() -> None:
        nonlocal count
        count += 1
        if count == 1:
            first()
        elif task is not None:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


class _RunResult(Protocol):
    """What ``tether demo`` and ``tether chaos`` runs return."""

    interrupted: bool

    def summary_lines(self) -> list[str]: ...

    def as_dict(self) -> dict[str, Any]: ...

    def exit_code(self) -> int: ...


async def _report(run: Callable[[asyncio.Event], Awaitable[_RunResult]], *, json_line: bool) -> int:
    """Run ``run(stop)`` with SIGINT/SIGTERM setting ``stop``, print its summary (and its JSON
    object as the last line when ``json_line``) and return the exit code: the run's own, or
    ``EXIT_INTERRUPTED`` for a clean run cut short by a signal."""
    interrupted = asyncio.Event()
    with _stop_signals(interrupted.set):
        result = await run(interrupted)
    for line in result.summary_lines():
        _say(line)
    if json_line:
        _say(json.dumps(result.as_dict(), separators=(",", ":")))
    code = result.exit_code()
    if code == 0 and result.interrupted:
        return EXIT_INTERRUPTED
    return code


# ---------------------------------------------------------------------------------- demo


async def _demo(args: argparse.Namespace) -> int:
    from tether.demo import DemoOptions, run_demo

    options = DemoOptions(
        duration=args.duration,
        guilds=args.guilds,
        faults=tuple(args.faults),
        rate=args.rate,
        seed=args.seed,
        heartbeat_ms=args.heartbeat_ms,
        stuck_after=args.stuck_after,
        quiet=args.quiet,
    )
    return await _report(lambda stop: run_demo(options, _say, stop), json_line=args.json)


# ---------------------------------------------------------------------------------- chaos


async def _chaos(args: argparse.Namespace) -> int:
    from tether.demo.chaos import ChaosOptions, run_chaos

    options = ChaosOptions(
        duration=args.duration,
        faults=tuple(args.faults),
        seed=args.seed,
        shards=args.shards,
        rate=args.rate,
        storm_probability=args.storms,
        stuck_after=args.stuck_after,
        max_rss_growth_pct=args.max_rss_growth,
        status_every=args.status_every,
        quiet=args.quiet,
        pin_malloc=not args.no_pin_malloc,
        compress=None if args.compress == "none" else args.compress,
    )
    return await _report(lambda stop: run_chaos(options, _say, stop), json_line=args.json)


# ---------------------------------------------------------------------------------- emulator


async def _emulator(args: argparse.Namespace) -> int:
    from tether.emulator import DEFAULT_TOKEN, Emulator, EmulatorConfig

    config = EmulatorConfig()
    if args.heartbeat_ms is not None:
        config.heartbeat_interval_ms = args.heartbeat_ms
    emu = Emulator(
        token=args.token or DEFAULT_TOKEN,
        guilds=args.guilds,
        seed=args.seed,
        config=config,
        host=args.host,
        port=args.port,
    )
    stop = asyncio.Event()
    with _stop_signals(stop.set):
        try:
            await emu.start()
        except OSError as exc:
            print(f"tether emulator: cannot listen on {args.host}:{args.port}: {exc}",
                  file=sys.stderr)  # fmt: skip
            return 1
        try:
            _say(f"tether emulator listening on {emu.host}:{emu.port} "
                 f"({args.guilds} guilds, seed {args.seed}, heartbeat "
                 f"{config.heartbeat_interval_ms} ms)")  # fmt: skip
            _say(f"  REST API     {emu.api_url}")
            _say(f"  gateway      {emu.gateway_url}")
            _say(f"  control API  {emu.control_url}/")
            _say(f"  token        {emu.token}")
            _say("Press Ctrl-C to stop.")
            feed = None if args.quiet else asyncio.create_task(_feed(emu), name="emulator feed")
            await stop.wait()
            if feed is not None:
                feed.cancel()
                await asyncio.gather(feed, return_exceptions=True)
            _say("stopping: closing every gateway socket")
        finally:
            await emu.stop()
    _say("tether emulator stopped")
    return 0


async def _feed(emu: Any) -> None:
    """Print connections, sessions, closes and faults as the emulator logs them."""
    index = emu.log.mark()
    while True:
        record = await emu.log.wait_for(
            lambda r: r.kind in _EMULATOR_FEED, since=index, timeout=None
        )
        index = record.index + 1
        details = " ".join(
            f"{k}={v}" for k, v in record.data.items() if k not in ("properties", "query")
        )
        who = f"conn {record.conn_id}" if record.conn_id is not None else ""
        session = f"session {record.session_id[:8]}" if record.session_id else ""
        _say(" ".join(p for p in (f"  {record.kind:<20}", who, session, details) if p))


# ---------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tether`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        )
    command = {"demo": _demo, "chaos": _chaos}.get(args.command, _emulator)
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:  # where signal handlers cannot be installed
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:  # a second Ctrl-C cancelled the run
        print("interrupted twice: stopped without a summary", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
