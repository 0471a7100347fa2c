"""The protocol layer's shape: sorted, truthful ``__all__``; no I/O imports."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import vidlift.protocol

MODULES = sorted(
    f"vidlift.protocol.{info.name}" for info in pkgutil.iter_modules(vidlift.protocol.__path__)
)
FORBIDDEN = {
    "aiohttp",
    "aiofiles",
    "anyio",
    "asyncio",
    "sqlite3",
    "rich",
    "socket",
    "random",
    "time",
    "os",
    "pickle",
    "requests",
    "mimetypes",
    "click",
    "subprocess",
}


def test_all_modules_are_found() -> None:
    assert "vidlift.protocol.session" in MODULES
    assert len(MODULES) >= 11


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"


@pytest.mark.parametrize("name", MODULES)
def test_protocol_imports_no_io_and_nothing_above_it(name: str) -> None:
    path = Path(importlib.import_module(name).__file__ or "")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    roots = {module.split(".")[0] for module in imported}
    assert not roots & FORBIDDEN
    inner = {m for m in imported if m.startswith("vidlift.")}
    assert all(m == "vidlift.errors" or m.startswith("vidlift.protocol.") for m in inner)
