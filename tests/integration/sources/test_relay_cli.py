"""`vidlift run` relays URL sources end to end: the same library from a `path` manifest,
a `download_url` manifest (the local origin) and an `s3://` manifest (moto) gives identical
videos on the emulator; a drop mid-body and a kill -9 re-read only what is missing."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.batch.test_library_batch import create_video
from vidlift.config import S3SourceSettings
from vidlift.jobs.survey import library_tag
from vidlift.platforms.v1 import LIBRARY_FIELD, MARKER_FIELD, SOURCE_FIELD
from vidlift.protocol.metadata import VideoMetadata
from vidlift.sources.s3 import create_s3_client
from vidlift.testing.emulator import Emulator, EmulatorConfig
from vidlift.testing.origin import Origin, OriginFault

pytestmark = pytest.mark.anyio

KiB = 1024
SECRET = "relay-tests-secret-1c9d"
SIGNATURE = "X-Amz-Signature=feedface0123"
BUCKET = "relay-media"
SIZES = (150 * KiB, 300 * KiB, 64 * KiB + 7)
CHUNK = "64KiB"


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET)) as emu:
        yield emu


def library(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"clip-{n}.mp4": os.urandom(size) for n, size in enumerate(SIZES, start=1)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def manifest(path: Path, column: str, refs: dict[str, str]) -> Path:
    lines = [f"{column},title"] + [f"{ref},{name}" for name, ref in refs.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def env_for(emu: Emulator, moto: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDLIFT_", "AWS_"))}
    env.update(
        VIDLIFT_ENDPOINT=emu.endpoint,
        VIDLIFT_API_KEY=emu.api_key,
        VIDLIFT_API_SECRET=emu.api_secret,
        VIDLIFT_BACKOFF_BASE_S="0.02",
        VIDLIFT_BACKOFF_MAX_S="0.2",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONUNBUFFERED="1",
    )
    if moto:
        env["VIDLIFT_S3_ENDPOINT_URL"] = moto
    return env


async def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = await anyio.run_process(
        [sys.executable, "-m", "vidlift", "run", *args], env=env, check=False
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def stored_md5s(emu: Emulator) -> dict[str, list[str]]:
    """title -> md5 of each stored video with that title (creation order)."""
    found: dict[str, list[str]] = {}
    for video in emu.videos():
        stored = emu.video_file(video.key)
        assert stored is not None, video.key
        found.setdefault(video.title, []).append(hashlib.md5(stored.read_bytes()).hexdigest())
    return found


async def put_objects(endpoint: str, files: dict[str, bytes]) -> None:
    settings = S3SourceSettings(endpoint_url=endpoint, region="us-east-1")
    async with AsyncExitStack() as stack:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        client: Any = await stack.enter_async_context(await create_s3_client(settings))
        await client.create_bucket(Bucket=BUCKET)
        for name, data in files.items():
            await client.put_object(Bucket=BUCKET, Key=f"v/{name}", Body=data)


async def test_path_url_and_s3_manifests_give_identical_videos(
    emulator: Emulator,
    origin: Origin,
    moto_endpoint: str,
    tmp_path: Path,
) -> None:
    files = library(tmp_path / "lib")
    for name, data in files.items():
        origin.add(name, data)
    await put_objects(moto_endpoint, files)
    # One drop mid-body: the job retries and re-reads only that range.
    origin.fault("clip-2.mp4", OriginFault(drop_after_bytes=100 * KiB, times=2))
    # A 503 when the job first asks: retried by the decision table, not a failed job.
    origin.fault("clip-3.mp4", OriginFault(status=503, times=2))
    by_path = manifest(tmp_path / "lib" / "paths.csv", "path", {n: n for n in files})
    by_url = manifest(
        tmp_path / "urls.csv",
        "download_url",
        {n: origin.url(n, query=SIGNATURE) for n in files},
    )
    by_s3 = manifest(
        tmp_path / "s3.csv", "download_url", {n: f"s3://{BUCKET}/v/{n}" for n in files}
    )
    env = env_for(emulator, moto_endpoint)
    for listed in (by_path, by_url, by_s3):
        code, out, err = await run(
            [str(listed), "--chunk-size", CHUNK, "--log-format", "json"], env
        )
        assert code == 0, err
        assert "Traceback" not in err
        assert SIGNATURE.split("=")[1] not in out + err
    expected = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    assert stored_md5s(emulator) == {name: [md5] * 3 for name, md5 in expected.items()}
    assert sum(1 for r in origin.requests if r.status == 503) == 2
    # The dropped file was read once whole, plus what the drop cut (no more).
    size = len(files["clip-2.mp4"])
    assert size < origin.body_bytes("clip-2.mp4") <= size + 2 * 100 * KiB + 2
    journal = tmp_path / "urls.csv.vidlift.sqlite"
    assert SIGNATURE.encode() not in journal.read_bytes()
    report = await anyio.run_process(
        [sys.executable, "-m", "vidlift", "report", "--journal", str(journal), "--format", "csv"],
        env=env,
    )
    rows = list(csv.DictReader(io.StringIO(report.stdout.decode())))
    assert sorted(row["path"] for row in rows) == sorted(origin.url(n) for n in files)
    assert {row["state"] for row in rows} == {"done"}


async def test_kill_9_mid_relay_then_resume_rereads_only_what_is_missing(
    emulator: Emulator, origin: Origin, tmp_path: Path
) -> None:
    data = os.urandom(1024 * KiB)
    origin.add("big.mp4", data)
    origin.fault("big.mp4", OriginFault(delay_s=0.05))  # ~16 ranges: a few seconds
    listed = manifest(tmp_path / "urls.csv", "download_url", {"big.mp4": origin.url("big.mp4")})
    env = env_for(emulator)
    args = [sys.executable, "-m", "vidlift", "run", str(listed), "--chunk-size", CHUNK]
    process = await anyio.open_process([*args, "--log-format", "json"], env=env)
    with anyio.fail_after(60):
        await origin.wait_served("big.mp4", 400 * KiB)
    process.kill()
    assert await process.wait() == -signal.SIGKILL
    read_before = origin.body_bytes("big.mp4")
    origin.fault("big.mp4", None)
    code, _, err = await run([str(listed), "--chunk-size", CHUNK], env)
    assert code == 0, err
    assert stored_md5s(emulator) == {"big.mp4": [hashlib.md5(data).hexdigest()]}
    # The second run read what the platform did not hold (at most a segment or two in
    # flight at the kill), and again what it needs for the md5 it had not hashed.
    reread = origin.body_bytes("big.mp4") - read_before
    assert reread <= len(data) + 3 * 64 * KiB
    assert origin.body_bytes("big.mp4") < 2 * len(data) + 3 * 64 * KiB


async def test_v2_relay_killed_9_resumes_checking_held_parts_against_the_source(
    emulator: Emulator, origin: Origin, tmp_path: Path
) -> None:
    """`--api v2` from a URL: parts stream from the origin; after kill -9 the new run
    compares each part the platform holds (its ETag) with the md5 of the same range read
    again from the origin, sends only the rest, and completes one media."""
    mib = 1024 * KiB
    data = os.urandom(11 * mib)  # three parts of 5 MiB (the last 1 MiB)
    origin.add("long.mp4", data)
    origin.fault("long.mp4", OriginFault(delay_s=0.05))
    listed = manifest(tmp_path / "urls.csv", "download_url", {"long.mp4": origin.url("long.mp4")})
    env = env_for(emulator)
    del env["VIDLIFT_API_KEY"]
    env.update(VIDLIFT_API="v2", VIDLIFT_SITE_ID=emulator.site_id)
    args = [sys.executable, "-m", "vidlift", "run", str(listed), "--chunk-size", "5MiB"]
    process = await anyio.open_process([*args, "--parts-in-flight", "1"], env=env)
    with anyio.fail_after(120):
        await emulator.wait_until(
            lambda: emulator.request_counts().get("part_ok", 0) >= 1, timeout_s=120
        )
    process.kill()
    assert await process.wait() == -signal.SIGKILL
    held = emulator.request_counts()["part_ok"]
    origin.fault("long.mp4", None)
    code, out, err = await run([str(listed), "--chunk-size", "5MiB"], env)
    assert code == 0, err
    assert "Traceback" not in err and emulator.api_secret not in out + err
    media = emulator.media()
    assert len(media) == 1 and media[0].md5 == hashlib.md5(data).hexdigest()
    assert emulator.request_counts()["part_ok"] <= 3 + held  # nothing stored twice but the kill's


async def test_a_missing_url_fails_its_row_naming_host_and_path_never_the_query(
    emulator: Emulator, origin: Origin, tmp_path: Path
) -> None:
    origin.add("here.mp4", os.urandom(70 * KiB))
    refs = {
        "here.mp4": origin.url("here.mp4"),
        "gone.mp4": origin.url("gone.mp4", query=SIGNATURE),
    }
    listed = manifest(tmp_path / "urls.csv", "download_url", refs)
    args = [str(listed), "--chunk-size", CHUNK, "--log-format", "json"]
    code, out, err = await run(args, env_for(emulator))
    # A URL's size is learned when its job opens it: the log and the totals say it.
    events = [json.loads(line) for line in (out + err).splitlines() if line.startswith("{")]
    done = [e for e in events if e.get("event") == "job_done"]
    assert [e["size_bytes"] for e in done] == [70 * KiB], done
    assert events[-1]["event"] == "summary" and events[-1]["bytes_total"] == 70 * KiB
    assert code == 1, err
    assert "Traceback" not in err and SIGNATURE.split("=")[1] not in out + err
    failed = [line for line in err.splitlines() if "failed:" in line]
    assert len(failed) == 1, err
    assert failed[0].strip().startswith("failed: urls.csv:3: ") and "/gone.mp4" in failed[0]
    assert "None" not in failed[0]
    assert [video.title for video in emulator.videos()] == ["here.mp4"]


async def test_an_origin_that_ignores_range_is_one_json_notice_in_a_json_log(
    emulator: Emulator, origin: Origin, tmp_path: Path
) -> None:
    """The notice about an origin that ignores Range is an event of the log (one JSON
    object per line), not a bare line in the middle of it; the file still migrates."""
    data = os.urandom(300 * KiB)
    origin.add("whole.mp4", data)
    origin.fault("whole.mp4", OriginFault(ignore_range=True))
    listed = manifest(tmp_path / "urls.csv", "download_url", {"whole.mp4": origin.url("whole.mp4")})
    args = [str(listed), "--chunk-size", CHUNK, "--log-format", "json"]
    code, out, err = await run(args, env_for(emulator))
    assert code == 0, err
    lines = [line for line in (out + err).splitlines() if line.strip()]
    stray = [line for line in lines if not line.startswith(("{", "vidlift: "))]
    assert stray == [], stray
    notices = [json.loads(line) for line in lines if '"source_notice"' in line]
    assert len(notices) == 1 and "ignores Range" in notices[0]["message"], notices
    assert stored_md5s(emulator) == {"whole.mp4": [hashlib.md5(data).hexdigest()]}


async def test_a_signed_url_is_read_with_its_query_though_the_journal_stores_it_without(
    emulator: Emulator, origin: Origin, tmp_path: Path
) -> None:
    """A signed CDN or S3 URL: the origin answers 403 without its query. The journal keeps
    the URL without the query (a secret), the run reads with the whole URL from the
    manifest; a later run from the same manifest does too."""
    data = os.urandom(150 * KiB)
    origin.add("signed.mp4", data)
    origin.fault("signed.mp4", OriginFault(require_query=SIGNATURE))
    listed = manifest(
        tmp_path / "urls.csv",
        "download_url",
        {"signed.mp4": origin.url("signed.mp4", query=SIGNATURE)},
    )
    code, out, err = await run([str(listed), "--chunk-size", CHUNK], env_for(emulator))
    assert code == 0, err
    assert SIGNATURE.split("=")[1] not in out + err
    assert SIGNATURE.encode() not in (tmp_path / "urls.csv.vidlift.sqlite").read_bytes()
    assert stored_md5s(emulator) == {"signed.mp4": [hashlib.md5(data).hexdigest()]}
    assert {r.status for r in origin.requests} <= {200, 206}  # never asked without it


async def test_a_lost_journal_run_from_another_directory_creates_no_url_row_again(
    emulator: Emulator, origin: Origin, tmp_path: Path
) -> None:
    """URL sources are known by their URL: a run after a lost journal, from another
    working directory, finds every video (it created them all again: the tag held the
    working directory)."""
    files = library(tmp_path / "lib")
    for name, data in files.items():
        origin.add(name, data)
    by_url = manifest(tmp_path / "urls.csv", "download_url", {n: origin.url(n) for n in files})
    env = env_for(emulator)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The second run: a new journal (the first one lost), from another directory.
    for number, cwd in enumerate((tmp_path, elsewhere)):
        journal = tmp_path / f"journal-{number}.sqlite"
        result = await anyio.run_process(
            [sys.executable, "-m", "vidlift", "run", str(by_url), "--journal", str(journal)],
            env=env,
            cwd=cwd,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
    assert emulator.request_counts().get("api_create", 0) == len(files)
    expected = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    assert stored_md5s(emulator) == {name: [md5] for name, md5 in expected.items()}


async def test_a_video_an_older_vidlift_tagged_for_a_url_is_still_found(
    emulator: Emulator, origin: Origin, tmp_path: Path
) -> None:
    """Before, a URL's tag was digested under the working directory: a lost journal run
    from that directory still adopts such a video instead of creating a second one."""
    files = library(tmp_path / "lib")
    for name, data in files.items():
        origin.add(name, data)
    rows = [f"u{n},{origin.url(name)},{name}" for n, name in enumerate(files, start=1)]
    listed = tmp_path / "ids.csv"
    listed.write_text("id,download_url,title\n" + "\n".join(rows) + "\n")
    first_url = origin.url("clip-1.mp4")
    older_tag = hashlib.sha256(f"{tmp_path}/{first_url.replace('//', '/', 1)}".encode())
    custom = {
        MARKER_FIELD: "u1",
        SOURCE_FIELD: older_tag.hexdigest()[:16],
        LIBRARY_FIELD: library_tag(listed),
    }
    await create_video(emulator, VideoMetadata(title="clip-1.mp4", custom=custom))
    result = await anyio.run_process(
        [sys.executable, "-m", "vidlift", "run", str(listed)],
        env=env_for(emulator),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert emulator.request_counts().get("api_create", 0) == len(files)  # that one + 2 new
    expected = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    assert stored_md5s(emulator) == {name: [md5] for name, md5 in expected.items()}


async def test_a_dry_run_counts_url_sources_it_has_not_sized(
    emulator: Emulator, origin: Origin, tmp_path: Path
) -> None:
    files = library(tmp_path / "lib")
    by_url = manifest(tmp_path / "urls.csv", "download_url", {n: origin.url(n) for n in files})
    code, out, err = await run([str(by_url), "--dry-run"], env_for(emulator))
    assert code == 0, err
    assert "bytes to send: 0 B, and 3 URL sources not sized yet" in out, out
    assert origin.requests == [], origin.requests  # a dry run reads no source
