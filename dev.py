#!/usr/bin/env python3
"""The one entry point for working on tether: run the checks, or run the demo.

Usage::

    python3 dev.py test [pytest args...]   ruff check, mypy --strict, lint-imports, then pytest
    python3 dev.py lint                    ruff check, mypy --strict, lint-imports
    python3 dev.py demo [args...]          exec `tether demo args...` from the project venv

Run it with the system python3 (3.11+); it uses only the standard library. Every command first
makes sure ``.venv`` exists and holds the pinned ``requirements-dev.txt`` plus tether itself
(editable). The install is skipped while a stamp in ``.venv`` records the sha256 of
``requirements-dev.txt`` and ``pyproject.toml`` and neither has changed; delete ``.venv`` to
start over. The steps stop at the first failure, and the exit status is non-zero on any failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".tether-install-stamp"
INSTALL_INPUTS = ("requirements-dev.txt", "pyproject.toml")
LINT_PATHS = ("src", "tests", "bench", "dev.py")
PYTEST_NO_TESTS = 5  # pytest's exit code for "no tests were collected"

USAGE = """usage: python3 dev.py COMMAND [args...]

commands:
  test [pytest args...]   install if needed, then ruff, mypy --strict, lint-imports, pytest
  lint                    install if needed, then ruff, mypy --strict, lint-imports
  demo [args...]          install if needed, then exec `tether demo args...`
"""


class StepError(Exception):
    """A step exited badly; ``str(self)`` says what to do about it."""


class Steps:
    """Runs named steps in order, prints one summary line per step, stops at the first failure."""

    def __init__(self) -> None:
        self.done: list[tuple[str, float]] = []

    def run(self, name: str, argv: list[str], hint: str, env: dict[str, str] | None = None) -> None:
        """Run ``argv`` from the repo root; raise StepError (with ``hint``) on a non-zero exit."""
        print(f"[dev] --> {name}: {' '.join(_shorten(a) for a in argv)}", flush=True)
        started = time.monotonic()
        try:
            code = subprocess.call(argv, cwd=ROOT, env=env)
        except FileNotFoundError:
            code = 127
            hint = f"{argv[0]} is missing: delete .venv and run dev.py again"
        seconds = time.monotonic() - started
        if code == PYTEST_NO_TESTS and name == "pytest":
            hint = "pytest collected no tests (exit 5); that counts as a failure"
        self.report(name, seconds, code, hint)

    def report(self, name: str, seconds: float, code: int = 0, hint: str = "") -> None:
        """Print the one-line summary of a finished step; raise StepError if it failed."""
        if code == 0:
            print(f"[dev] ok    {name:<16} {seconds:7.2f}s", flush=True)
            self.done.append((name, seconds))
            return
        print(f"[dev] FAIL  {name:<16} {seconds:7.2f}s  exit {code}: {hint}", flush=True)
        raise StepError(f"{name} failed (exit {code}): {hint}")


def _shorten(arg: str) -> str:
    """Show paths inside the repo relative to it, so the echoed command stays readable."""
    return arg.removeprefix(str(ROOT) + os.sep)


def _install_digest() -> str:
    digest = hashlib.sha256()
    for name in INSTALL_INPUTS:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_installed(steps: Steps) -> None:
    """Create .venv if needed; install the requirements and tether unless the stamp is current."""
    python = BIN / "python"
    if not python.exists():
        if VENV.exists():
            raise StepError(f"{VENV} exists but has no working {python}: delete .venv and rerun")
        _create_venv(steps)
    want = _install_digest()
    if STAMP.exists() and STAMP.read_text().strip() == want:
        steps.report("install (cached)", 0.0)
        return
    env = {**os.environ, "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    print("[dev] installing requirements-dev.txt and tether into .venv (slow the first time)")
    steps.run(
        "install",
        [str(python), "-m", "pip", "install", "-q", "-r", "requirements-dev.txt", "-e", "."],
        "pip could not install the pinned requirements or the project; see pip's output above",
        env=env,
    )
    STAMP.write_text(want + "\n")


def _create_venv(steps: Steps) -> None:
    try:
        steps.run(
            "venv",
            [sys.executable, "-m", "venv", str(VENV)],
            "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)",
        )
    except StepError:
        shutil.rmtree(VENV, ignore_errors=True)  # we created it just now; leave no half venv
        raise


def lint(steps: Steps) -> None:
    """ruff check, mypy --strict (files from pyproject), lint-imports (contracts from pyproject)."""
    paths = [p for p in LINT_PATHS if (ROOT / p).exists()]
    steps.run(
        "ruff check",
        [str(BIN / "ruff"), "check", *paths],
        "ruff found problems; `.venv/bin/ruff check --fix` repairs some",
    )
    steps.run("mypy --strict", [str(BIN / "mypy"), "--strict"], "mypy found type errors above")
    steps.run(
        "lint-imports",
        [str(BIN / "lint-imports")],
        "an import rule of ARCHITECTURE.md is broken (contracts in pyproject.toml)",
    )


def test(steps: Steps, pytest_args: list[str]) -> None:
    lint(steps)
    steps.run("pytest", [str(BIN / "pytest"), *(pytest_args or ["-q"])], "tests failed")


def demo(args: list[str]) -> None:
    """Replace this process with `.venv/bin/tether demo args...`."""
    tether = BIN / "tether"
    if not tether.exists():
        raise StepError(f"{tether} is missing: is [project.scripts] tether in pyproject.toml?")
    argv = [str(tether), "demo", *args]
    print(f"[dev] exec {' '.join(_shorten(a) for a in argv)}", flush=True)
    if os.name == "nt":  # no real exec on Windows
        sys.exit(subprocess.call(argv, cwd=ROOT))
    os.chdir(ROOT)
    os.execv(argv[0], argv)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py runs on whatever python3 the machine has)
        print(f"dev.py needs Python 3.11+, this is {sys.version.split()[0]}", file=sys.stderr)
        return 2
    if not argv or argv[0] not in {"test", "lint", "demo"}:
        print(USAGE, file=sys.stderr, end="")
        return 0 if argv[:1] in (["-h"], ["--help"], ["help"]) else 2
    command, args = argv[0], argv[1:]
    if command == "lint" and args:
        print("dev.py lint takes no arguments", file=sys.stderr)
        return 2
    steps = Steps()
    started = time.monotonic()
    try:
        ensure_installed(steps)
        if command == "demo":
            demo(args)
        elif command == "lint":
            lint(steps)
        else:
            test(steps, args)
    except StepError as failure:
        print(f"[dev] {command}: FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"\n[dev] {command}: interrupted", file=sys.stderr)
        return 130
    names = ", ".join(name for name, _ in steps.done)
    print(f"[dev] {command}: all passed in {time.monotonic() - started:.1f}s ({names})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
