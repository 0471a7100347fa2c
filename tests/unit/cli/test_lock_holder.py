"""`vidlift status` tells an active run from a dead one by the journal's writer lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from vidlift.cli.journals import lock_holder

HOLD = (
    "import sys, anyio\n"
    "from pathlib import Path\n"
    "from vidlift.journal.sqlite import SqliteJournal\n"
    "async def main():\n"
    "    await SqliteJournal.open(Path(sys.argv[1]))\n"
    "    print('open', flush=True)\n"
    "    await anyio.sleep(60)\n"
    "anyio.run(main)\n"
)


def test_the_writer_pid_while_it_lives_and_none_after_kill_9(tmp_path: Path) -> None:
    journal = tmp_path / "j.vidlift.sqlite"
    assert lock_holder(journal) is None  # no lock file at all
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(journal)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        assert lock_holder(journal) == writer.pid
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        if writer.stdout is not None:
            writer.stdout.close()
    assert lock_holder(journal) is None  # the lock file stays, with a dead pid in it
    assert journal.with_name(journal.name + ".lock").read_text().strip() == str(writer.pid)
