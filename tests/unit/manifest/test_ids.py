"""Job ids: the derivation rule (a stable contract) and the duplicate table."""

import pytest

from vidlift.manifest.ids import MAX_JOB_ID_CHARS, SeenIds, check_job_id, derive_job_id, read_job_id


def test_derived_id_is_pinned() -> None:
    # "p-" + sha256(normalized path)[:16]. Changing this would break resuming every
    # journal written before: it is a contract.
    assert derive_job_id("videos/a.mp4") == "p-fd630f6fddb79f05"
    assert derive_job_id("a.mp4") == "p-e6d48eabd560bc60"
    assert derive_job_id("/lib/été.mp4") == "p-b0cab02dc0eeb2e3"


@pytest.mark.parametrize("same", ["./a/b.mp4", "a//b.mp4", "a/x/../b.mp4", "a/b.mp4/"])
def test_derived_id_normalizes_the_path(same: str) -> None:
    assert derive_job_id(same) == derive_job_id("a/b.mp4")


def test_derived_ids_differ() -> None:
    assert derive_job_id("a/b.mp4") != derive_job_id("a/c.mp4")
    assert derive_job_id("/lib/a/b.mp4") != derive_job_id("a/b.mp4")
    assert derive_job_id("A/b.mp4") != derive_job_id("a/b.mp4")


def test_check_job_id() -> None:
    assert check_job_id("x" * MAX_JOB_ID_CHARS) == "x" * MAX_JOB_ID_CHARS
    assert check_job_id("legacy 42 / é") == "legacy 42 / é"
    with pytest.raises(ValueError, match="id is empty"):
        check_job_id("")
    with pytest.raises(ValueError, match="longer than 200 characters"):
        check_job_id("x" * (MAX_JOB_ID_CHARS + 1))
    for bad in ("a\tb", "a\nb", "a\x00b"):
        with pytest.raises(ValueError, match="control character"):
            check_job_id(bad)


def test_read_job_id() -> None:
    assert read_job_id(None) is None
    assert read_job_id("  ") is None
    assert read_job_id(" abc ") == "abc"
    assert read_job_id(42) == "42"
    for bad in (True, 1.5, ["a"]):
        with pytest.raises(ValueError, match="text or a whole number"):
            read_job_id(bad)


def test_seen_ids_across_growth() -> None:
    seen = SeenIds(capacity=4)
    ids = [f"job-{n}" for n in range(20_000)]
    assert all(seen.add(job_id) for job_id in ids)
    assert len(seen) == len(ids)
    assert not any(seen.add(job_id) for job_id in ids)
    assert seen.add("job-20000")
