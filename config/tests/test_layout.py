"""The arrows between the parts, as README.md's architecture section draws them: an import
against an arrow fails here, so the layout cannot drift from the page that explains it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTS = {"config", "providers", "sessions_app", "accounts", "usage", "gateways", "fakes"}

# Which parts each part's product code may import (its own always).
ALLOWED = {
    "providers": set(),
    "accounts": {"providers"},
    "usage": {"providers"},
    "gateways": {"providers", "usage"},
    "sessions_app": {"providers", "usage"},
    "fakes": set(),
    "config": {"providers", "accounts", "sessions_app", "usage", "gateways"},
}

# Inside providers, the low layers never reach up: keys know nothing else, the transport
# knows no runner or row, and runners get plain values (never the ORM): they import only these.
LAYERS = {
    "providers/keys": ("providers.errors", "providers.keys"),
    "providers/upstream/transport.py": ("providers.errors", "providers.keys"),
    "providers/runners": (
        "providers.errors",
        "providers.keys",
        "providers.runners",
        "providers.upstream.transport",
    ),
}


def product_modules() -> list[Path]:
    return [
        path
        for part in sorted(PARTS)
        for path in (ROOT / part).rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
    ]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_walk_finds_the_parts() -> None:
    found = {path.relative_to(ROOT).parts[0] for path in product_modules()}
    assert {"config", "providers", "sessions_app", "accounts", "fakes"} <= found


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_arrows(path: Path) -> None:
    part = path.relative_to(ROOT).parts[0]
    reached = {name.split(".")[0] for name in imported(path)} & PARTS - {part}
    assert reached <= ALLOWED[part], f"{part} may not import {sorted(reached - ALLOWED[part])}"
    where = next((w for w in LAYERS if str(path.relative_to(ROOT)).startswith(w)), None)
    if where:
        ours = {name for name in imported(path) if name.split(".")[0] in PARTS}
        stray = sorted(name for name in ours if not name.startswith(LAYERS[where]))
        assert stray == [], f"{where} may not import {stray}"
