"""docs/SCENARIOS.md lists every misuse case of tests/integration/cli/test_misuse.py, with
its exit code, and the count it states is the number of cases."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _listed() -> tuple[dict[str, int], str]:
    text = (ROOT / "docs" / "SCENARIOS.md").read_text(encoding="utf-8")
    section = text[text.index("## Bad input and misuse") :]
    section = section[: section.index("\n## ", 1)]
    return {name: int(code) for name, code in re.findall(r"`([a-z0-9-]+)` (\d)", section)}, section


def _cases() -> dict[str, str]:
    text = (ROOT / "tests" / "integration" / "cli" / "test_misuse.py").read_text(encoding="utf-8")
    return dict(
        re.findall(r'^    Case\("([^"]+)", [^\n]*?, (\d|BAD_ROWS_FAIL_ALONE), ', text, re.M)
    )


def test_every_misuse_case_is_listed_with_its_exit_code() -> None:
    listed, section = _listed()
    cases = _cases()
    assert len(cases) > 100  # the pattern still reads the test file
    codes = {
        name: 1 if code == "BAD_ROWS_FAIL_ALONE" else int(code) for name, code in cases.items()
    }
    assert listed == codes
    assert f"{len(cases)} cases, each a real `vidlift` subprocess" in section
