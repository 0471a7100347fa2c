"""The API secret never leaves the process: not in any output of any command, at any log
format, not in the journal, the report, error messages or reprs.

A whole batch runs against a faulty emulator (so that retry and error paths print their
messages), with one bad row; then status, report, retry, a single upload and a run with a
wrong secret. Every byte they printed and every file they wrote is searched. vidlift has
no debug logging; Python's development mode (warnings, asyncio debug) is on instead, so
that stray reprs and tracebacks would show too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import quote

import anyio
import pytest

from vidlift import Client
from vidlift.cli.settings import load_run_config
from vidlift.client.api import ApiClient
from vidlift.client.transport import AiohttpTransport
from vidlift.config import Credentials
from vidlift.errors import ConfigError
from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan
from vidlift.testing.library import write_sample_library

pytestmark = pytest.mark.anyio

SECRET = "Zq7-distinctive-SECRET-4f2b9e1d"
WRONG = "Wr0ng-distinctive-SECRET-88aa17c3"
FAULTS = FaultPlan(
    seed=3,
    drop_mid_segment_p=0.1,
    lost_ack_p=0.1,
    upload_503_p=0.1,
    api_500_p=0.1,
    truncated_answer_p=0.05,
    forget_completed=0.5,
)


def needles(secret: str) -> list[bytes]:
    """The secret as it could appear: raw, URL-encoded, UTF-16."""
    return [secret.encode(), quote(secret).encode(), secret.encode("utf-16-le")]


def files_under(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


async def test_the_secret_appears_in_no_output_and_no_file(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    manifest = write_sample_library(lib, 8, sizes=(40_000, 150_000, 333_333))
    with manifest.open("a") as handle:
        handle.write("bad-1,videos/missing.mp4,Missing,,,\n")
    before = files_under(lib)
    config = EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET, faults=FAULTS)
    outputs: list[tuple[str, bytes]] = []
    async with Emulator(config) as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
        env.update(
            VIDLIFT_ENDPOINT=emu.endpoint,
            VIDLIFT_API_KEY=emu.api_key,
            VIDLIFT_API_SECRET=SECRET,
            VIDLIFT_BACKOFF_BASE_S="0.01",
            VIDLIFT_BACKOFF_MAX_S="0.1",
            VIDLIFT_MAX_ATTEMPTS="30",
            PYTHONDEVMODE="1",
            PYTHONASYNCIODEBUG="1",
        )
        journal = str(manifest.with_name("library.csv.vidlift.sqlite"))

        async def vidlift(*args: str, extra_env: dict[str, str] | None = None) -> int:
            result = await anyio.run_process(
                [sys.executable, "-m", "vidlift", *args],
                env={**env, **(extra_env or {})},
                check=False,
            )
            outputs.append((f"{args} stdout", result.stdout))
            outputs.append((f"{args} stderr", result.stderr))
            return result.returncode

        run = ["run", str(manifest), "--chunk-size", "64KiB"]
        assert await vidlift(*run, "--log-format", "json") == 1
        assert await vidlift(*run, "--log-format", "text", "--api-secret", SECRET) == 1
        report_file = str(lib / "report.json")
        upload = ["upload", str(lib / "videos" / "clip-001.mp4")]
        wrong = {"VIDLIFT_API_SECRET": WRONG}
        other_journal = ["--journal", str(lib / "other.sqlite")]  # its jobs are not done yet
        codes: dict[str, int] = {}

        async def check(name: str, extra_env: dict[str, str] | None, args: list[str]) -> None:
            codes[name] = await vidlift(*args, extra_env=extra_env)

        async with anyio.create_task_group() as group:  # independent: side by side
            group.start_soon(check, "status", None, ["status", "--journal", journal])
            group.start_soon(check, "report", None, ["report", "--journal", journal])
            group.start_soon(check, "upload", None, [*upload, "--json"])
        report_args = ["report", "--journal", journal, "--format", "json", "--output"]
        async with anyio.create_task_group() as group:
            group.start_soon(check, "report-file", None, [*report_args, report_file])
            group.start_soon(
                check, "wrong-run", wrong, [*run, *other_journal, "--log-format", "json"]
            )
            group.start_soon(check, "wrong-upload", wrong, upload)
        assert codes == {
            "status": 0, "report": 0, "upload": 0, "report-file": 0, "wrong-run": 2,
            "wrong-upload": 2,
        }  # fmt: skip
        assert await vidlift("retry", "--failed", "--journal", journal) == 0
        assert len(emu.videos()) == 8 + 1  # the batch and the single upload
    written = {p: data for p, data in files_under(lib).items() if before.get(p) != data}
    assert manifest.with_name("library.csv.vidlift.sqlite") in written
    assert Path(report_file) in written
    assert any(b"SignatureInvalid" in data for _, data in outputs)  # the wrong-secret runs
    for secret in (SECRET, WRONG):
        for needle in needles(secret):
            for name, data in outputs:
                assert needle not in data, f"the secret is in {name}"
            for path, data in written.items():
                assert needle not in data, f"the secret is in {path}"


async def test_reprs_and_config_errors_never_show_the_secret() -> None:
    credentials = Credentials("key1", SECRET)
    transport = AiohttpTransport()
    api = ApiClient(transport, endpoint="http://x", credentials=credentials)
    client = Client(endpoint="http://x", api_key="key1", api_secret=SECRET, transport=transport)
    config = load_run_config({"api_secret": SECRET, "api_key": "key1"}, config_file=None, env={})
    shown = [
        repr(credentials),
        str(credentials),
        repr(api),
        repr(client),
        repr(config),
        str(config),
    ]
    with pytest.raises(ConfigError) as bad:
        load_run_config({"api_secret": SECRET, "concurrency": "many"}, config_file=None, env={})
    shown.append(str(bad.value))
    for text in shown:
        assert SECRET not in text, text
    await transport.aclose()
