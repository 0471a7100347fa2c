"""The emulator package's shape: its public names, and its independence from the client."""

from __future__ import annotations

import ast
from pathlib import Path

from vidlift.testing import emulator

PACKAGE = Path(emulator.__file__).parent
FORBIDDEN = ("vidlift.protocol", "vidlift.client", "vidlift.jobs", "vidlift.journal")


def test_public_names_are_sorted_and_exist() -> None:
    assert emulator.__all__ == sorted(emulator.__all__)
    for name in emulator.__all__:
        assert hasattr(emulator, name), name
    assert {"Emulator", "EmulatorConfig", "FaultPlan", "load_fault_plan"} <= set(emulator.__all__)


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_emulator_shares_no_code_with_the_client_side() -> None:
    # A bug on one side must not be hidden by the same bug on the other (STYLE.md).
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) > 5
    for path in modules:
        bad = {m for m in _imported_modules(path) if m.startswith(FORBIDDEN)}
        assert not bad, f"{path.name} imports {bad}"


def test_every_module_says_what_it_holds() -> None:
    for path in PACKAGE.glob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and "public test kit" in doc, path.name
        assert len(path.read_text().splitlines()) < 400, path.name
