"""The layer map checks itself: every import under ``src/vidlift`` (read with ast,
function-level and TYPE_CHECKING imports included) goes down the map, and every
package's ``__init__`` docstring states its layer and what it may import.

The map (docs/ARCHITECTURE.md, STYLE.md)::

    cli
    jobs | testing
    platforms | sources | journal | manifest     (none imports another of these four)
    client
    protocol
    config, errors                               (errors imports nothing of vidlift)

``vidlift.testing.emulator`` stands apart: it shares no code with the client side, so
it imports nothing of vidlift but ``errors`` and ``config``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import vidlift

SRC = Path(vidlift.__file__).parent
RANKS = {
    "errors": 0,
    "config": 1,
    "protocol": 2,
    "client": 3,
    "platforms": 4,
    "sources": 4,
    "journal": 4,
    "manifest": 4,
    "jobs": 5,
    "testing": 5,
    "cli": 6,
}
ENTRY_POINTS = {"__init__", "__main__"}  # the package root (the public surface) and -m
EMULATOR = ("testing", "emulator")
EMULATOR_MAY_IMPORT = frozenset({"errors", "config"})
DOC_LINE = re.compile(r"Layer: ([a-z.]+); may import: (nothing of vidlift|[a-z, ]+)\.")


def _unit(path: Path) -> tuple[str, ...]:
    """The package path of a module: ('journal',), ('testing', 'emulator'), ('errors',)."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[:2] if parts[:2] == EMULATOR else parts[:1]


def _imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) of every import of vidlift in a file (absolute imports)."""
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, ()) for a in node.names if _ours(a.name)]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: use absolute imports"
            if node.module and _ours(node.module):
                found.append((node.lineno, node.module, tuple(a.name for a in node.names)))
    return found


def _ours(module: str) -> bool:
    return module == "vidlift" or module.startswith("vidlift.")


def may_import(unit: tuple[str, ...]) -> frozenset[str]:
    """The top-level vidlift packages/modules a unit may import (besides itself)."""
    if unit == EMULATOR:
        return EMULATOR_MAY_IMPORT
    rank = RANKS[unit[0]]
    return frozenset(name for name, other in RANKS.items() if other < rank)


def _violations(path: Path, unit: tuple[str, ...] | None = None) -> list[str]:
    unit = unit or _unit(path)
    if unit[0] in ENTRY_POINTS:
        return []
    assert unit[0] in RANKS, f"{path}: package {unit[0]!r} is not on the layer map"
    allowed = may_import(unit)
    bad: list[str] = []
    for line, module, names in _imports(path):
        parts = tuple(module.split(".")[1:])
        if not parts:  # `from vidlift import ...`: only the version constant
            if set(names) != {"__version__"}:
                bad.append(f"{path.name}:{line} imports {names} from vidlift")
            continue
        target = parts[:2] if parts[:2] == EMULATOR else parts[:1]
        if target == unit or (unit == EMULATOR and target == EMULATOR):
            continue
        if target[0] not in allowed and not (unit[0] == "testing" and target == EMULATOR):
            bad.append(f"{path.name}:{line}: {'.'.join(unit)} imports {module}")
    return bad


MODULES = sorted(SRC.rglob("*.py"))


def test_every_module_is_on_the_map() -> None:
    assert len(MODULES) > 60
    units = {_unit(path) for path in MODULES}
    assert ("journal",) in units and EMULATOR in units


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SRC)) for p in MODULES])
def test_imports_go_down_the_map(path: Path) -> None:
    assert _violations(path) == []


def test_the_checker_catches_a_breach(tmp_path: Path) -> None:
    """A journal module importing the manifest (side by side) is refused, even inside a
    function; the emulator may not import the protocol layer."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from vidlift.errors import JournalError\n"
        "def f():\n    import vidlift.manifest.rows\n"
        "from vidlift import __version__\n"
    )
    assert _violations(probe, ("journal",)) == ["probe.py:3: journal imports vidlift.manifest.rows"]
    assert _violations(probe, ("jobs",)) == []
    probe.write_text("from vidlift.protocol.ranges import RangeSet\n")
    assert _violations(probe, EMULATOR) == [
        "probe.py:1: testing.emulator imports vidlift.protocol.ranges"
    ]
    assert _violations(probe, ("client",)) == []
    assert may_import(EMULATOR) == {"errors", "config"}
    assert "jobs" not in may_import(("testing",)) and "testing" not in may_import(("jobs",))


PACKAGES = sorted(path.parent for path in SRC.rglob("__init__.py") if path.parent != SRC)


@pytest.mark.parametrize("package", PACKAGES, ids=[p.name for p in PACKAGES])
def test_package_docstring_states_its_layer(package: Path) -> None:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    unit = _unit(package / "__init__.py")
    expected = sorted(may_import(unit), key=lambda name: (-RANKS[name], name))
    line = f"Layer: {'.'.join(unit)}; may import: {', '.join(expected)}."
    found = DOC_LINE.search(" ".join(doc.split()))
    assert found is not None, f"{package.name}/__init__.py: its docstring needs the line {line!r}"
    assert found.group(0) == line


def test_public_names_are_written_once() -> None:
    """``vidlift.__all__`` is sorted, each name resolves, and the lazy table matches it."""
    assert vidlift.__all__ == sorted(vidlift.__all__)
    exports: dict[str, str] = vidlift._EXPORTS  # type: ignore[attr-defined]
    assert set(exports) == set(vidlift.__all__) - {"__version__"}
    for name in vidlift.__all__:
        assert getattr(vidlift, name) is not None, name
