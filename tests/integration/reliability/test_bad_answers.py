"""Bad server answers, each met by one file of a real three-file batch: the file ends done
(when the answer still means "complete" or the platform can tell) or failed with a clear
reason naming what went wrong; the two other files always finish, byte-identical.

A tampering proxy sits between vidlift and the emulator (proxy.py); the emulator hands out
upload links that point at the proxy.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import pytest
from aiohttp import web

from tests.unit.protocol.samples import BILLION_LAUGHS_XML, XXE_XML
from vidlift import BatchSettings, SqliteJournal, run_batch
from vidlift.client.api import ApiClient
from vidlift.client.transport import AiohttpTransport, HttpRequest, HttpResponse
from vidlift.config import Credentials, Limits, RetrySettings, Timeouts, UploadSettings
from vidlift.errors import ConnectionDropped, RateLimited
from vidlift.jobs.events import BatchEvent, JobRetrying
from vidlift.jobs.policy import RetryPolicy, Verdict
from vidlift.journal.base import JobRecord
from vidlift.journal.state import JobState

from .proxy import DROP, Call, Reply, TamperProxy, tamper_proxy

pytestmark = pytest.mark.anyio

KiB = 1024
MARKER = "vidlift_job_id"
CHUNK = 64 * KiB
ATTEMPTS = 4
SIZES = {"a": 150 * KiB, "bad": 200 * KiB + 3, "b": 90 * KiB}
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def write_library(folder: Path) -> Path:
    (folder / "videos").mkdir(parents=True)
    lines = ["id,path,title"]
    for number, (job, size) in enumerate(SIZES.items()):
        (folder / "videos" / f"{job}.mp4").write_bytes(bytes([number + 1]) * 7 + b"x" * size)
        lines.append(f"{job},videos/{job}.mp4,{'Bad' if job == 'bad' else 'Good ' + job}")
    manifest = folder / "library.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def fast_settings(**upload: object) -> BatchSettings:
    settings = UploadSettings(
        chunk_size_bytes=CHUNK,
        piece_bytes=16 * KiB,
        retry=RetrySettings(max_attempts=ATTEMPTS, base_delay_s=0.01, max_delay_s=0.05),
        **upload,  # type: ignore[arg-type]
    )
    return BatchSettings(limits=Limits(files_in_flight=3), upload=settings, grace_s=1.0)


@dataclass
class Outcome:
    records: dict[str, JobRecord]
    events: list[BatchEvent]
    proxy: TamperProxy
    manifest: Path

    def state(self, job: str) -> JobState:
        return self.records[job].state

    def error(self, job: str) -> str:
        return self.records[job].last_error or ""

    def bad_video_keys(self) -> list[str]:
        return [v.key for v in self.proxy.emulator.videos() if v.custom.get(MARKER) == "bad"]

    def retries(self) -> list[str]:
        return [e.error for e in self.events if isinstance(e, JobRetrying) and e.job_id == "bad"]


def assert_good_files_done(outcome: Outcome) -> None:
    """The batch went on: the two healthy files are done, once, byte-identical."""
    emu = outcome.proxy.emulator
    for job in ("a", "b"):
        assert outcome.state(job) is JobState.DONE, outcome.error(job)
        (video,) = [v for v in emu.videos() if v.custom.get(MARKER) == job]
        stored = emu.video_file(video.key)
        source = outcome.manifest.parent / "videos" / f"{job}.mp4"
        assert stored is not None and stored.read_bytes() == source.read_bytes()


def assert_bad_file_identical(outcome: Outcome) -> None:
    emu = outcome.proxy.emulator
    (key,) = outcome.bad_video_keys()
    stored = emu.video_file(key)
    source = outcome.manifest.parent / "videos" / "bad.mp4"
    assert stored is not None and stored.read_bytes() == source.read_bytes()


async def run_case(
    tmp_path: Path, hook: Callable[[Call], Awaitable[Reply]], settings: BatchSettings
) -> Outcome:
    manifest = write_library(tmp_path / "lib")
    events: list[BatchEvent] = []
    async with tamper_proxy(tmp_path) as proxy:
        proxy.hook = hook
        journal = await SqliteJournal.open(tmp_path / "j.sqlite")
        try:
            with anyio.fail_after(60):
                await run_batch(
                    manifest,
                    journal=journal,
                    endpoint=proxy.endpoint,
                    api_key=proxy.emulator.api_key,
                    api_secret=proxy.emulator.api_secret,
                    settings=settings,
                    on_event=events.append,
                )
            records = {r.job_id: r async for r in journal.iter_jobs()}
        finally:
            await journal.close()
        return Outcome(records, events, proxy, manifest)


def bad_segment(call: Call) -> bool:
    return call.is_segment and call.filename == "bad.mp4"


def bad_api(call: Call, route: str) -> bool:
    return call.route == f"videos/{route}" and call.params().get("title") == "Bad"


# -- API answers -----------------------------------------------------------------------


async def test_malformed_json_create_answer_finds_the_video_instead_of_creating_twice(
    tmp_path: Path,
) -> None:
    async def hook(call: Call) -> Reply:
        reply = await call.forward()  # the platform did create the video
        if bad_api(call, "create"):
            return Reply(200, b'{"status": "ok", "media": {"type": "video", "key": "', {})
        return reply

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.DONE
    assert len(outcome.bad_video_keys()) == 1  # found through videos/list, not created again
    assert any("malformed JSON" in error for error in outcome.retries())
    assert_bad_file_identical(outcome)


async def test_a_429_on_the_look_up_after_a_lost_create_answer_never_creates_twice(
    tmp_path: Path,
) -> None:
    """Regression (found by the soak): the create answer is lost, and the videos/list that
    must look for the video before creating again answers 429. The look-up must still
    happen once the quota is back, instead of a second create."""
    lost: list[str] = []
    limited: list[str] = []

    async def hook(call: Call) -> Reply:
        if bad_api(call, "create") and not lost:
            lost.append("create")
            await call.forward()  # the platform creates the video ...
            return DROP  # ... and the answer never arrives
        marker = call.params().get(f"search:custom.{MARKER}")
        if call.route == "videos/list" and marker == "bad" and not limited:
            limited.append("list")
            reset = int(time.time()) + 1
            body = json.dumps(
                {
                    "status": "error",
                    "code": "RateLimitExceeded",
                    "title": "Rate Limit Exceeded",
                    "message": "slow down",
                    "rate_limit": {"reset": reset, "limit": 60, "remaining": 0},
                }
            )
            return Reply(429, body.encode(), {"content-type": "application/json"})
        return await call.forward()

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert (lost, limited) == (["create"], ["list"])
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.DONE, outcome.error("bad")
    assert len(outcome.bad_video_keys()) == 1
    assert_bad_file_identical(outcome)


@pytest.mark.parametrize("body", [XXE_XML, BILLION_LAUGHS_XML], ids=["xxe", "billion-laughs"])
async def test_xml_with_a_dtd_is_refused_never_expanded(tmp_path: Path, body: bytes) -> None:
    async def hook(call: Call) -> Reply:
        if bad_api(call, "create"):
            return Reply(200, body, {"content-type": "text/xml"})
        return await call.forward()

    outcome = await run_case(tmp_path, hook, fast_settings(api_format="xml"))
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.FAILED
    error = outcome.error("bad")
    assert "videos/create" in error and "DTD or entities" in error, error
    assert "root:" not in error and "lol" * 10 not in error
    assert outcome.bad_video_keys() == []
    assert len([c for c in outcome.proxy.calls if bad_api(c, "create")]) == ATTEMPTS


async def test_malformed_xml_show_answer_fails_the_job_clearly(tmp_path: Path) -> None:
    bad_keys: list[str] = []

    async def hook(call: Call) -> Reply:
        reply = await call.forward()
        if bad_api(call, "create"):
            bad_keys.append(reply.body.split(b'key="', 1)[1][:8].decode())
        if call.route == "videos/show" and call.params().get("video_key") in bad_keys:
            return Reply(200, b"<response><status>ok</status><video><size>12", {})
        return reply

    # A show per file (the verification batches off): this is the show's answer.
    settings = replace(fast_settings(api_format="xml"), verify_batch_size=0)
    outcome = await run_case(tmp_path, hook, settings)
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.FAILED
    assert "videos/show: malformed XML answer" in outcome.error("bad")
    assert_bad_file_identical(outcome)  # uploaded; only the platform's check could not run


async def test_a_malformed_listing_answer_falls_back_to_a_show_per_file(tmp_path: Path) -> None:
    async def hook(call: Call) -> Reply:
        if call.route == "videos/list" and "search:custom.vidlift_batch" in call.params():
            return Reply(200, b"<response><status>ok</status><videos><video", {})
        return await call.forward()

    outcome = await run_case(tmp_path, hook, fast_settings(api_format="xml"))
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.DONE, outcome.error("bad")
    listed = [c for c in outcome.proxy.calls if c.route == "videos/list"]
    shows = [c for c in outcome.proxy.calls if c.route == "videos/show"]
    assert listed and len(shows) >= len(outcome.records)  # each file checked by its show


async def test_html_502_from_a_proxy_on_the_api_is_retried_then_fails_clearly(
    tmp_path: Path,
) -> None:
    async def hook(call: Call) -> Reply:
        if bad_api(call, "create"):
            return Reply(502, HTML_502, {"content-type": "text/html"})
        return await call.forward()

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.FAILED
    error = outcome.error("bad")
    assert error.startswith("videos/create: 502") and "502 Bad Gateway" in error, error
    assert len(outcome.retries()) == ATTEMPTS - 1


async def test_html_429_page_is_a_rate_limit_not_a_failure() -> None:
    """A proxy's HTML 429 page (no JSON error document) must be waited out, not given up."""

    class Html429:
        async def send(
            self, request: HttpRequest, *, timeout_s: float | None = None
        ) -> HttpResponse:
            body = b"<html><head><title>429 Too Many Requests</title></head></html>"
            return HttpResponse(429, {"content-type": "text/html"}, body)

        async def aclose(self) -> None:
            return None

    api = ApiClient(Html429(), endpoint="http://x", credentials=Credentials("k", "s"))
    with pytest.raises(RateLimited) as info:
        await api.show_video("abcdefgh")
    assert "429 Too Many Requests" in str(info.value)
    assert RetryPolicy().classify(info.value) is Verdict.WAIT


# -- upload answers --------------------------------------------------------------------


async def test_html_502_on_every_segment_gives_up_after_bounded_retries(tmp_path: Path) -> None:
    async def hook(call: Call) -> Reply:
        if bad_segment(call):
            return Reply(502, HTML_502, {"content-type": "text/html"})
        return await call.forward()

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    record = outcome.records["bad"]
    assert record.state is JobState.FAILED
    error = outcome.error("bad")
    assert "bad.mp4" in error and f"session {record.session_id}" in error, error
    assert (
        f"gave up after {ATTEMPTS} failed attempts in a row; last: upload server answered "
        "502: HTML page: 502 Bad Gateway" in error
    )
    assert error.count("bad.mp4") == 1  # the file is named once, not once per wrapping
    assert len(outcome.retries()) == ATTEMPTS - 1
    assert len(outcome.proxy.segments_of("bad.mp4")) == ATTEMPTS


@pytest.mark.parametrize(
    ("make_range", "reason"),
    [
        (lambda total: "bananas", "bananas"),
        (lambda total: f"0-{total + 10}/{total}", "beyond"),
        (lambda total: f"0-9/{total + 1000}", f"a total of {SIZES['bad'] + 7 + 1000} bytes"),
    ],
    ids=["garbage", "beyond-the-total", "other-total"],
)
async def test_unusable_range_answers_fail_the_file_after_bounded_retries(
    tmp_path: Path, make_range: Callable[[int], str], reason: str
) -> None:
    async def hook(call: Call) -> Reply:
        reply = await call.forward()
        if bad_segment(call) and reply.status == 201:
            text = make_range(call.byte_range[2])
            return Reply(201, text.encode(), {"range": text})
        return reply

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    record = outcome.records["bad"]
    assert record.state is JobState.FAILED
    error = outcome.error("bad")
    assert "bad.mp4" in error and f"session {record.session_id}" in error, error
    assert reason in error, error
    assert len(outcome.proxy.segments_of("bad.mp4")) == ATTEMPTS


async def test_ranges_that_no_longer_cover_what_was_acknowledged_are_reconciled(
    tmp_path: Path,
) -> None:
    """The server "forgets" two acknowledged segments: vidlift asks videos/show, learns the
    file is not complete, probes, and sends what is missing; one video, identical bytes."""
    shrunk: list[int] = []

    async def hook(call: Call) -> Reply:
        reply = await call.forward()
        if bad_segment(call) and call.byte_range[0] == 2 * CHUNK and not shrunk:
            shrunk.append(1)
            total = call.byte_range[2]
            return Reply(201, f"0-0/{total}".encode(), {"range": f"0-0/{total}"})
        return reply

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.DONE, outcome.error("bad")
    assert_bad_file_identical(outcome)
    shows = [c for c in outcome.proxy.calls if c.route == "videos/show"]
    assert len(shows) >= 1  # the reconciliation (the files are verified by batch listings)
    assert any(c.route == "videos/list" for c in outcome.proxy.calls)
    assert len(outcome.bad_video_keys()) == 1


async def test_final_200_with_another_size_fails_verification(tmp_path: Path) -> None:
    async def hook(call: Call) -> Reply:
        reply = await call.forward()
        if bad_segment(call) and reply.status == 200:
            doc = json.loads(reply.body)
            doc["file"] = {"size": call.byte_range[2] + 1}
            return Reply(200, json.dumps(doc).encode(), {"content-type": "application/json"})
        return reply

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    record = outcome.records["bad"]
    assert record.state is JobState.FAILED
    size = SIZES["bad"] + 7
    assert outcome.error("bad") == (
        f"{outcome.manifest.parent / 'videos' / 'bad.mp4'}, session {record.session_id}: "
        f"the server reports {size + 1} bytes received, the file has {size}"
    )


async def test_a_server_that_stored_other_bytes_is_caught_by_the_md5_check(
    tmp_path: Path,
) -> None:
    """The server acknowledges a segment but keeps zeros (a disk that lost data): sizes
    agree, only the platform's md5 tells; the job fails instead of claiming success."""

    async def hook(call: Call) -> Reply:
        if bad_segment(call) and call.byte_range[0] == CHUNK:
            return await call.forward(body=bytes(len(call.body)))
        return await call.forward()

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    record = outcome.records["bad"]
    assert record.state is JobState.FAILED
    (key,) = outcome.bad_video_keys()
    error = outcome.error("bad")
    assert f"session {record.session_id}" in error
    assert "the platform's md5" in error and f"for video {key} differs from the file's" in error


async def test_final_answer_with_status_error_fails_clearly(tmp_path: Path) -> None:
    async def hook(call: Call) -> Reply:
        if bad_segment(call) and call.is_final_segment:
            body = b'{"status": "error", "code": "InternalError", "message": "disk on fire"}'
            return Reply(200, body, {"content-type": "application/json"})
        return await call.forward()

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    record = outcome.records["bad"]
    assert record.state is JobState.FAILED
    error = outcome.error("bad")
    assert f"session {record.session_id}" in error
    assert "final answer has status error: InternalError: disk on fire" in error
    assert len([c for c in outcome.proxy.segments_of("bad.mp4") if c.is_final_segment]) == 1


async def test_malformed_final_answer_is_complete_and_checked_through_the_api(
    tmp_path: Path,
) -> None:
    async def hook(call: Call) -> Reply:
        reply = await call.forward()
        if bad_segment(call) and reply.status == 200:
            return Reply(200, b"<response><status>ok</status><video key=", {})
        return reply

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.DONE, outcome.error("bad")
    assert_bad_file_identical(outcome)
    (key,) = outcome.bad_video_keys()
    assert outcome.records["bad"].video_key == key


async def test_a_3xx_final_answer_is_complete_and_never_followed(tmp_path: Path) -> None:
    async def hook(call: Call) -> Reply:
        reply = await call.forward()
        if bad_segment(call) and reply.status == 200:
            # Back at the proxy: a followed redirect would show up in its log.
            headers = {"location": "/followed?video_key=x", "content-type": "application/json"}
            return Reply(303, reply.body, headers)
        return reply

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.DONE, outcome.error("bad")
    assert_bad_file_identical(outcome)
    assert not [c for c in outcome.proxy.calls if c.path_qs.startswith("/followed")]


async def test_connection_closed_without_answer_gives_up_naming_file_and_session(
    tmp_path: Path,
) -> None:
    async def hook(call: Call) -> Reply:
        if bad_segment(call):
            return DROP  # as real servers do for requests they will always refuse
        return await call.forward()

    outcome = await run_case(tmp_path, hook, fast_settings())
    assert_good_files_done(outcome)
    record = outcome.records["bad"]
    assert record.state is JobState.FAILED
    error = outcome.error("bad")
    path = outcome.manifest.parent / "videos" / "bad.mp4"
    assert error.startswith(f"{path}, session {record.session_id}: gave up after {ATTEMPTS}")
    assert len(outcome.proxy.segments_of("bad.mp4")) == ATTEMPTS


async def test_very_slow_segment_answers_time_out(tmp_path: Path) -> None:
    release = anyio.Event()

    async def hook(call: Call) -> Reply:
        if bad_segment(call):
            with anyio.move_on_after(10):
                await release.wait()
            return Reply(503, b"too late")
        return await call.forward()

    timeouts = Timeouts(connect_s=2.0, read_s=0.3, api_s=5.0)
    try:
        outcome = await run_case(tmp_path, hook, fast_settings(timeouts=timeouts))
    finally:
        release.set()
    assert_good_files_done(outcome)
    record = outcome.records["bad"]
    assert record.state is JobState.FAILED
    error = outcome.error("bad")
    assert f"session {record.session_id}" in error and f"gave up after {ATTEMPTS}" in error
    assert "timeout" in error.lower(), error


async def test_very_slow_api_answers_time_out(tmp_path: Path) -> None:
    release = anyio.Event()

    async def hook(call: Call) -> Reply:
        if bad_api(call, "create"):
            with anyio.move_on_after(10):
                await release.wait()
            return Reply(503, b"too late")
        return await call.forward()

    timeouts = Timeouts(connect_s=2.0, read_s=5.0, api_s=0.3)
    try:
        outcome = await run_case(tmp_path, hook, fast_settings(timeouts=timeouts))
    finally:
        release.set()
    assert_good_files_done(outcome)
    assert outcome.state("bad") is JobState.FAILED
    assert "timeout" in outcome.error("bad").lower(), outcome.error("bad")
    assert outcome.bad_video_keys() == []


# -- the transport reads whole answers ---------------------------------------------------


async def test_an_answer_arriving_in_pieces_is_read_whole_and_a_cut_one_is_an_error() -> None:
    """Regression: the transport once returned only the first piece of a body."""
    document = json.dumps({"status": "ok", "padding": "x" * 200_000}).encode()

    async def pieces(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(document) + (100 if request.path == "/cut" else 0)
        await response.prepare(request)
        for start in range(0, len(document), 50_000):
            await response.write(document[start : start + 50_000])
            await asyncio.sleep(0.01)  # the server writes slowly, on purpose
        if request.path == "/cut" and request.transport is not None:
            request.transport.abort()
        return response

    app = web.Application()
    app.router.add_get("/{name}", pieces)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    transport = AiohttpTransport()
    try:
        answer = await transport.send(HttpRequest("GET", f"{base}/whole"))
        assert answer.body == document
        with pytest.raises(ConnectionDropped):
            await transport.send(HttpRequest("GET", f"{base}/cut"))
    finally:
        await transport.aclose()
        await runner.cleanup()
