"""Start-up cost: commands in a pipe do not import rich (or prometheus-client)."""

from __future__ import annotations

import subprocess
import sys

CHECK = (
    "import sys\n"
    "import vidlift.cli.main, vidlift.cli.upload, vidlift.cli.run, vidlift.cli.status\n"
    "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'prometheus_client'}))\n"
)


def test_upload_run_and_status_modules_import_no_rich() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
