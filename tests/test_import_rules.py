"""The import rules of ARCHITECTURE.md, checked on the source text of every module in src/tether.

lint-imports (contracts in pyproject.toml) follows indirect chains through the installed package;
this test reads the files themselves, needs no install, and holds the rules import-linter cannot
say: the emulator's allow-list and "nothing imports the `tether` package itself". It checks every
import statement, including those under ``if TYPE_CHECKING:`` and inside functions. Packages that
do not exist yet are simply not visited.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT_PACKAGE = "tether"

PURE = ("tether.wire", "tether.gateway", "tether.models", "tether.cache")
IO_MODULES = frozenset({"asyncio", "aiohttp", "socket", "time", "random"})
NO_CACHE = ("tether.gateway", "tether.runtime")
EMULATOR = "tether.emulator"
EMULATOR_MAY_IMPORT = ("tether.emulator", "tether.wire", "tether.models", "tether.errors")
LAYERS = ("tether.sharding", "tether.runtime", "tether.gateway", "tether.wire")  # high to low


@dataclass(frozen=True, slots=True)
class Import:
    """One imported name: ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a`` and ``a.b``.

    ``a.b`` may name an attribute rather than a submodule; the rules only compare prefixes, so
    that over-approximation is harmless.
    """

    target: str
    line: int


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _layer(module: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if _within(module, layer)), None)


def imports_of(module: str, source: str, *, is_package: bool = False) -> list[Import]:
    """Every module that the source of ``module`` imports, with relative imports resolved."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node.module, node.level, is_package=is_package)
            found.append(Import(base, node.lineno))
            found += [
                Import(f"{base}.{alias.name}", node.lineno)
                for alias in node.names
                if alias.name != "*"
            ]
    return found


def _resolve(module: str, name: str | None, level: int, *, is_package: bool) -> str:
    if level == 0:
        return name or ""
    parts = module.split(".")
    keep = len(parts) - level + (1 if is_package else 0)
    if keep < 1:
        return f"<relative import beyond {parts[0]}>"
    return ".".join([*parts[:keep], *([name] if name else [])])


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """The rules of ARCHITECTURE.md that ``module`` (given as source text) breaks, one line each."""
    found: list[str] = []
    for imp in imports_of(module, source, is_package=is_package):
        found += [f"{module}:{imp.line}: {why}" for why in _broken_rules(module, imp)]
    return found


def _broken_rules(module: str, imp: Import) -> list[str]:
    target = imp.target
    broken: list[str] = []
    if any(_within(module, p) for p in PURE) and target.split(".")[0] in IO_MODULES:
        broken.append(f"pure code imports {target} (take `now` and `rng` as arguments)")
    if any(_within(module, p) for p in NO_CACHE) and _within(target, "tether.cache"):
        broken.append(f"imports {target}: the cache is a consumer, wired in by the client")
    if (
        _within(module, EMULATOR)
        and _within(target, ROOT_PACKAGE)
        and not any(_within(target, p) for p in EMULATOR_MAY_IMPORT)
    ):
        broken.append(f"the emulator imports {target} (only wire, models and errors are allowed)")
    if target == ROOT_PACKAGE:
        broken.append("imports the `tether` package itself; import from its submodules")
    mine, theirs = _layer(module), _layer(target)
    if mine is not None and theirs is not None and theirs < mine:
        broken.append(f"layer {LAYERS[mine]} imports the higher layer {target}")
    return broken


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted((SRC / ROOT_PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join(parts), path))
    return found


def test_source_tree_is_found() -> None:
    names = [name for name, _ in _modules()]
    assert "tether.wire.opcodes" in names, f"looked in {SRC / ROOT_PACKAGE}, found {names}"


def test_every_package_has_an_init() -> None:
    """A directory without __init__.py is a namespace package, which import-linter skips unseen."""
    dirs = {path.parent for path in (SRC / ROOT_PACKAGE).rglob("*.py")}
    missing = sorted(str(d.relative_to(SRC)) for d in dirs if not (d / "__init__.py").exists())
    assert missing == [], f"add an __init__.py to: {', '.join(missing)}"


def test_every_module_follows_the_import_rules() -> None:
    broken = [
        line
        for name, path in _modules()
        for line in violations(
            name, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"
        )
    ]
    assert broken == [], "\n".join(broken)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("tether.wire.codec", "import asyncio"),
        ("tether.gateway.protocol", "from time import monotonic"),
        ("tether.models.guild", "import random"),
        ("tether.cache.store", "def f():\n    import socket"),
        (
            "tether.gateway.shard",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n import aiohttp",
        ),
        ("tether.gateway.protocol", "from tether.cache import Cache"),
        ("tether.runtime.client", "from tether import cache"),
        ("tether.runtime.client", "import tether.cache.store"),
        ("tether.emulator.server", "from tether.gateway.state import ShardState"),
        ("tether.emulator.server", "from tether.rest import RestClient"),
        ("tether.emulator.world", "from ..runtime import clock"),
        ("tether.runtime.shard", "import tether"),
        ("tether.cli", "from tether import Client"),
        ("tether.gateway.protocol", "from tether.runtime.shard import Shard"),
        ("tether.wire.codec", "from ..gateway import policy"),
        ("tether.runtime.shard", "from tether.sharding import manager"),
    ],
)
def test_a_rule_breaking_module_is_flagged(module: str, source: str) -> None:
    assert violations(module, source) != []


@pytest.mark.parametrize(
    ("module", "source", "is_package"),
    [
        (
            "tether.gateway.protocol",
            "import zlib\nfrom tether.wire import Op\nfrom . import state",
            False,
        ),
        (
            "tether.gateway",
            "from .protocol import ShardProtocol\nfrom tether.errors import X",
            True,
        ),
        (
            "tether.runtime.shard",
            "import asyncio\nimport aiohttp\nfrom tether.gateway import S",
            False,
        ),
        ("tether.sharding.manager", "from tether.runtime.shard import Shard", False),
        (
            "tether.emulator.server",
            "import asyncio\nfrom tether.wire import Op\nfrom . import world",
            False,
        ),
        ("tether.emulator", "from tether.models import Guild\nfrom tether.errors import E", True),
        ("tether.cache.store", "from tether.models import Guild", False),
        ("tether.cli", "import asyncio\nfrom tether.emulator import Emulator", False),
    ],
)
def test_a_rule_abiding_module_passes(module: str, source: str, is_package: bool) -> None:
    assert violations(module, source, is_package=is_package) == []


def test_relative_imports_resolve_like_python() -> None:
    assert _resolve("tether.wire.codec", None, 1, is_package=False) == "tether.wire"
    assert _resolve("tether.wire.codec", "errors", 2, is_package=False) == "tether.errors"
    assert _resolve("tether.wire", "codec", 1, is_package=True) == "tether.wire.codec"
    assert _resolve("tether.wire", None, 2, is_package=True) == "tether"
