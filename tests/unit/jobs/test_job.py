"""The one decision loop, against a scripted v1 platform (MockTransport, no sockets)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from vidlift.client.source import SourceFile
from vidlift.config import RetrySettings
from vidlift.errors import (
    ConnectError,
    PlatformUnreachable,
    SegmentRejected,
    UploadError,
    VidliftError,
)
from vidlift.jobs.job import JobContext, JobResult, JobStart, NullJobLog, run_job
from vidlift.jobs.pacing import AdaptiveGate
from vidlift.jobs.policy import RetryPolicy
from vidlift.jobs.reachability import Reachability
from vidlift.platforms.base import UploadHandle
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.ranges import RangeSet

from .scripted_v1 import ScriptedV1, Session, drop, refuse_connect, status

pytestmark = pytest.mark.anyio

SIZE = 450  # 5 segments of 100 bytes


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def policy(max_attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(
        RetrySettings(max_attempts=max_attempts, base_delay_s=0.0, max_delay_s=0.0),
        rand=lambda: 0.0,
    )


async def spec_for(tmp_path: Path, **kwargs: object) -> tuple[JobStart, bytes]:
    data = os.urandom(SIZE)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    source = await SourceFile.inspect(path)
    fields: dict[str, object] = {"metadata": VideoMetadata(title="Clip"), "marker": "job-1"}
    fields.update(kwargs)
    return JobStart("job-1", source, **fields), data  # type: ignore[arg-type]


async def run(
    server: ScriptedV1, spec: JobStart, *, retries: list[VidliftError] | None = None, **ctx: object
) -> JobResult:
    context = JobContext(
        platform=server.platform(),
        policy=ctx.pop("policy", policy()),  # type: ignore[arg-type]
        log=NullJobLog(),
        piece_bytes=64,
        **ctx,  # type: ignore[arg-type]
    )
    seen = retries if retries is not None else []
    return await run_job(context, spec, on_retry=lambda exc, delay: seen.append(exc))


def only_video(server: ScriptedV1) -> bytes:
    assert len(server.videos) == 1, server.videos
    return bytes(next(iter(server.videos.values())).data)


async def test_happy_path_creates_sends_in_order_and_verifies(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, data = await spec_for(tmp_path)
    result = await run(server, spec)
    assert only_video(server) == data
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert server.calls == ["videos/create", *["upload"] * 5, "videos/show"]
    assert result.stats.segments_sent == 5 and result.stats.failures == 0


async def test_a_lost_create_answer_is_looked_up_never_created_twice(tmp_path: Path) -> None:
    server = ScriptedV1()

    def lost_after_acting(request):  # type: ignore[no-untyped-def]
        server.handle(request)  # the platform creates the video, the answer is lost
        return drop(request)

    server.fail("videos/create", lost_after_acting)
    spec, data = await spec_for(tmp_path)
    await run(server, spec)
    assert only_video(server) == data
    assert server.calls[:5] == [
        "videos/create",
        "videos/create",
        "videos/list",
        "videos/update",
        "upload",
    ]


async def test_a_refused_connection_on_create_creates_without_a_look_up(tmp_path: Path) -> None:
    server = ScriptedV1()
    server.fail("videos/create", refuse_connect)
    spec, data = await spec_for(tmp_path)
    await run(server, spec)
    assert only_video(server) == data
    assert server.calls[:3] == ["videos/create", "videos/create", "upload"]


async def test_a_dropped_segment_is_followed_by_a_probe(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, data = await spec_for(tmp_path)
    server.fail("upload", status(201, b"0-99/450"), drop)  # 1st counted, 2nd lost
    retries: list[VidliftError] = []
    await run(server, spec, retries=retries)
    assert only_video(server) == data
    assert len(retries) == 1
    uploads = [r for r in server.transport.requests if r.path == "/upload"]
    assert uploads[2].header("X-Content-Range") == f"bytes 0-0/{SIZE}"  # the probe


async def test_503_retries_and_halves_the_gate(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, data = await spec_for(tmp_path)
    server.fail("upload", status(503))
    gate = AdaptiveGate(8)
    await run(server, spec, gate=gate)
    assert only_video(server) == data
    assert gate.limit == 4


async def test_a_gone_session_is_renewed_on_the_same_video(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, data = await spec_for(tmp_path)
    server.fail("upload", status(201, b"0-99/450"), status(410))
    await run(server, spec)
    assert only_video(server) == data
    assert server.calls.count("videos/update") == 1
    assert server.calls.count("videos/create") == 1


async def test_a_deleted_video_is_created_again_once(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, data = await spec_for(tmp_path, video_key="Vgone")  # created by an earlier run
    await run(server, spec)
    assert only_video(server) == data
    assert server.calls[:2] == ["videos/update", "videos/create"]


async def test_shrunk_ranges_are_reconciled_with_the_platform(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, data = await spec_for(tmp_path)
    await run(server, spec)  # the whole file is on the platform
    video = next(iter(server.videos.values()))
    # A later run resumes from a journal that recorded 300 bytes of a session the
    # server completed and forgot: its probe reports 1 byte, the platform has the file.
    resumed = JobStart(
        "job-1",
        spec.source,
        spec.metadata,
        marker="job-1",
        video_key=video.key,
        handle=UploadHandle(video.key, "Sforgotten", "http://upload.test/upload"),
        acked=RangeSet.of([(0, 299)]),
    )
    server.sessions["Sforgotten"] = Session(video.key)  # a new upload under that id
    server.calls.clear()
    result = await run(server, resumed)
    assert server.calls == ["upload", "videos/show"]  # the probe, then ask: nothing re-sent
    assert bytes(video.data[: len(data)]) == data
    assert result.md5 == hashlib.md5(data).hexdigest()


async def test_a_refusal_for_good_gives_up_naming_file_and_session(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, _ = await spec_for(tmp_path)
    server.fail("upload", status(416, b"bad range"))
    with pytest.raises(SegmentRejected) as info:
        await run(server, spec)
    message = str(info.value)
    assert message.startswith(f"{spec.source.name}, session S")
    assert "416" in message and message.count("clip.mp4") == 1


async def test_retries_are_bounded_and_say_so(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, _ = await spec_for(tmp_path)
    server.fail("upload", *[status(502)] * 10)
    with pytest.raises(UploadError, match="gave up after 3 failed attempts in a row"):
        await run(server, spec, policy=policy(max_attempts=3))


async def test_an_unreachable_platform_stops_the_batch_not_the_job(tmp_path: Path) -> None:
    server = ScriptedV1()
    spec, _ = await spec_for(tmp_path)
    server.fail("videos/create", *[refuse_connect] * 50)
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    reach = Reachability(10.0, clock=clock)
    with pytest.raises(PlatformUnreachable, match="could not be reached"):
        await run(server, spec, reachability=reach, policy=policy(max_attempts=3))
    assert 3 < server.calls.count("videos/create") < 50  # past max_attempts, bounded


def test_connect_error_is_what_reachability_counts() -> None:
    reach = Reachability(5.0, clock=lambda: 0.0)
    assert reach.unreachable(ConnectError("refused"))
    assert not reach.unreachable(SegmentRejected("x", http_status=400))
