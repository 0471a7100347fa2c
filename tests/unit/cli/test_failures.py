"""Failures grouped by reason."""

from __future__ import annotations

from vidlift.cli.failures import FailedJob, failure_reason, group_failures


def job(n: int, error: str) -> FailedJob:
    path = f"/lib/videos/clip-{n:03d}.mp4"
    return FailedJob(f"legacy-{n:03d}", path, f"m.csv:{n + 1}", error.format(path=path), 1)


def test_what_differs_per_file_is_taken_out_of_the_reason() -> None:
    reason = failure_reason("/a/x.mp4: the server reports 12 bytes for 'k3y9'", "/a/x.mp4")
    assert reason == "the server reports N bytes for '…'"


def test_groups_are_largest_first_with_their_jobs() -> None:
    jobs = [
        job(1, "{path}: the server reports 12 bytes received, the file has 40"),
        job(2, "{path}: cannot read the file: Permission denied"),
        job(3, "{path}: the server reports 7 bytes received, the file has 99"),
    ]
    groups = group_failures(jobs)
    assert [(g.reason, [j.job_id for j in g.jobs]) for g in groups] == [
        ("the server reports N bytes received, the file has N", ["legacy-001", "legacy-003"]),
        ("cannot read the file: Permission denied", ["legacy-002"]),
    ]
