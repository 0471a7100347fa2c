"""Property-based fuzzing of what is not fuzzed elsewhere (pure code: no sockets).

tests/unit/protocol already fuzzes range parsing, document decoding, the answer models and
the session; tests/unit/manifest fuzzes the manifest reader. Here: a whole segment answer
(status, headers, raw body) through classification and into a session holding acknowledged
ranges, and manifest bytes through ingestion into a journal. Nothing may escape but the
documented error types.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vidlift.errors import (
    ManifestError,
    RangeHeaderError,
    SegmentRejected,
    UploadError,
    UploadServerBusy,
)
from vidlift.jobs.ingest import ingest_manifest
from vidlift.journal.memory import MemoryJournal
from vidlift.protocol.ranges import ByteRange, RangeSet
from vidlift.protocol.segment import Complete, Partial, classify_segment_answer
from vidlift.protocol.session import UploadSession

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")

TOTAL = 1000
QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

range_texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789-/, ", max_size=30),
    st.lists(st.tuples(st.integers(-5, 1100), st.integers(-5, 1100)), min_size=1, max_size=4).map(
        lambda pairs: ",".join(f"{a}-{b}/{TOTAL}" for a, b in pairs)
    ),
    st.integers(0, 2**70).map(lambda n: f"0-{n}/{n + 1}"),
)
good_final = json.dumps(
    {"status": "ok", "media": {"type": "video", "key": "abcd1234"}, "file": {"size": TOTAL}}
).encode()
bodies = st.one_of(
    st.binary(max_size=200),
    st.just(good_final),
    st.tuples(st.integers(0, len(good_final)), st.binary(max_size=4)).map(
        lambda cut: good_final[: cut[0]] + cut[1]
    ),
    st.sampled_from(
        [
            b"<response><status>ok</status><video key='k'><size>1000</size></video></response>",
            b'<!DOCTYPE r [<!ENTITY x "y">]><response><status>&x;</status></response>',
            b"<html><title>502 Bad Gateway</title></html>",
            b'{"status": "error", "code": "X", "message": "m"}',
            b"\x80\x04\x95",  # a pickle's first bytes
        ]
    ),
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "range": range_texts,
        "content-type": st.sampled_from(["application/json", "text/xml", "text/html", "", "x"]),
        "retry-after": st.one_of(st.text(max_size=8), st.sampled_from(["1", "1e400", "-3", "nan"])),
    },
)


@QUICK
@given(
    status=st.integers(100, 599),
    header_map=headers,
    body=bodies,
    acked=st.lists(st.tuples(st.integers(0, TOTAL - 1), st.integers(0, 200)), max_size=3),
)
def test_any_segment_answer_is_classified_or_refused_with_a_documented_error(
    status: int, header_map: dict[str, str], body: bytes, acked: list[tuple[int, int]]
) -> None:
    ranges = RangeSet.of(ByteRange(a, min(TOTAL - 2, a + n)) for a, n in acked if a < TOTAL - 1)
    session = UploadSession(TOTAL, 100, ranges)
    session.next_action()
    try:
        answer = classify_segment_answer(status, header_map, body)
    except RangeHeaderError:
        assert status == 201
        return
    except (SegmentRejected, UploadServerBusy) as refused:
        assert refused.http_status == status
        if refused.retry_after_s is not None:
            assert 0 <= refused.retry_after_s <= 24 * 3600
        assert refused.message  # always something to show the user
        return
    assert isinstance(answer, Partial | Complete)
    try:
        session.receive(answer)
    except (UploadError, RangeHeaderError):  # RangesShrank is an UploadError
        return
    assert session.acked.covers(ranges)  # acknowledged bytes never go away silently


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.lists(
                st.sampled_from(["a.mp4", "", "x", "é", '"', ",", "\r\n", "id1", "2020-01-01"]),
                max_size=5,
            ),
            max_size=6,
        ).map(
            lambda rows: ("id,path,title,date\n" + "\n".join(",".join(r) for r in rows)).encode()
        ),
    ),
    name=st.sampled_from(["m.csv", "m.jsonl"]),
)
def test_any_manifest_bytes_ingest_into_a_journal_or_raise_manifest_error(
    data: bytes, name: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "a.mp4").write_bytes(b"video")
        manifest = Path(folder) / name
        manifest.write_bytes(data)

        async def ingest() -> None:
            journal = MemoryJournal()
            try:
                stats = await ingest_manifest(journal, manifest)
            except ManifestError:
                return
            counts = await journal.counts()
            assert stats.problems <= stats.rows
            assert counts.total_jobs <= stats.rows + 1  # + one note on unknown columns
            again = await ingest_manifest(journal, manifest)
            assert again.new_jobs == 0  # idempotent: the same manifest adds nothing twice
            assert (await journal.counts()).total_jobs == counts.total_jobs

        anyio.run(ingest)
