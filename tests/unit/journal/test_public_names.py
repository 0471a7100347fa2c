"""The public names of the journal and manifest packages: sorted, and all present."""

import importlib

import pytest

MODULES = [
    "vidlift.journal",
    "vidlift.journal.base",
    "vidlift.journal.leases",
    "vidlift.journal.memory",
    "vidlift.journal.postgres",
    "vidlift.journal.postgres_schema",
    "vidlift.journal.sqlite",
    "vidlift.journal.sqlite_schema",
    "vidlift.journal.spec",
    "vidlift.journal.sqlite_store",
    "vidlift.journal.state",
    "vidlift.journal.transitions",
    "vidlift.manifest",
    "vidlift.manifest.formats",
    "vidlift.manifest.ids",
    "vidlift.manifest.reader",
    "vidlift.manifest.rows",
    "vidlift.manifest.sources",
    "vidlift.testing.journal_conformance",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    for public in module.__all__:
        assert hasattr(module, public), public
