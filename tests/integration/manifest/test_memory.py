"""A 100,000-row manifest streamed into a SqliteJournal stays within a memory budget.

The child measures its own peak: VmHWM of /proc/self/status (the peak of this program
image). ``ru_maxrss`` would do elsewhere, but on Linux it keeps the peak of the process
before ``exec`` -- here, a copy of pytest itself -- so it is printed, not asserted.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROWS = 100_000
BUDGET_MIB = 200

_INGEST = """
    import itertools
    import json
    import resource
    import sys
    from pathlib import Path

    import anyio
    import anyio.to_thread

    from vidlift.jobs.ingest import job_problem, job_spec
    from vidlift.journal import SqliteJournal
    from vidlift.manifest import ManifestEntry, ManifestProblem, iter_manifest

    async def ingest(journal: SqliteJournal, manifest: Path) -> tuple[int, int]:
        results = iter_manifest(manifest)
        new = problems = 0
        take = lambda: list(itertools.islice(results, 1000))
        while batch := await anyio.to_thread.run_sync(take):
            new += await journal.add_entries(
                job_spec(r) for r in batch if isinstance(r, ManifestEntry)
            )
            for result in batch:
                if isinstance(result, ManifestProblem):
                    problems += 1
                    await journal.add_problem(job_problem(result))
        return new, problems

    def peak_rss_mib() -> float:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024

    async def main() -> None:
        manifest, journal_path = Path(sys.argv[1]), Path(sys.argv[2])
        async with await SqliteJournal.open(journal_path) as journal:
            new, problems = await ingest(journal, manifest)
            counts = await journal.counts()
        print(json.dumps({
            "new": new, "problems": problems, "jobs": counts.total_jobs,
            "failed": counts.by_state["failed"], "peak_rss_mib": peak_rss_mib(),
            "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }))

    anyio.run(main)
"""


@pytest.mark.timeout(320)
def test_hundred_thousand_rows_within_budget(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for n in range(5):
        (videos / f"clip-{n}.mp4").write_bytes(b"v" * (1000 + n))
    manifest = tmp_path / "library.csv"
    with manifest.open("w") as out:
        out.write("id,path,title,description,tags,date,custom.legacy_id\n")
        for n in range(ROWS):
            path = "videos/missing.mp4" if n % 1000 == 999 else f"videos/clip-{n % 5}.mp4"
            out.write(
                f"legacy-{n},{path},Clip {n},A description of clip {n},"
                f'"news, archive",2021-03-04,{n}\n'
            )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_INGEST), str(manifest), str(tmp_path / "j.sqlite")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    print(f"100k-row ingest: peak RSS {figures['peak_rss_mib']:.0f} MiB", figures)
    assert (figures["new"], figures["problems"]) == (ROWS - 100, 100)
    assert (figures["jobs"], figures["failed"]) == (ROWS, 100)
    assert figures["peak_rss_mib"] < BUDGET_MIB
