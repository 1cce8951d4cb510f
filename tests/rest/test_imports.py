"""``tether.rest`` imports only ``wire``, ``errors``, ``token`` and ``urls`` from tether, so the
REST client works alone and never drags in the gateway runtime or the cache (ARCHITECTURE.md).
lint-imports checks the same with indirect chains (pyproject.toml); this reads the source."""

from __future__ import annotations

import ast
from pathlib import Path

REST = Path(__file__).resolve().parents[2] / "src" / "tether" / "rest"
ALLOWED = ("tether.rest", "tether.wire", "tether.errors", "tether.token", "tether.urls")


def _tether_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "tether.rest"))  # relative: inside the package
    return [(line, name) for line, name in found if name.split(".")[0] == "tether"]


def test_rest_imports_only_what_it_may() -> None:
    files = sorted(REST.glob("*.py"))
    assert files, REST
    broken = [
        f"{path.name}:{line}: {name}"
        for path in files
        for line, name in _tether_imports(path)
        if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED)
    ]
    assert broken == []
