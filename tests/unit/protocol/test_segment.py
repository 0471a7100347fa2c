"""Classifying the answer to one segment request."""

from __future__ import annotations

import pytest

from vidlift.errors import RangeHeaderError, SegmentRejected, UploadServerBusy
from vidlift.protocol.models import FinalAnswer
from vidlift.protocol.ranges import RangeSet, ReceivedRanges
from vidlift.protocol.segment import Complete, Partial, classify_segment_answer

FINAL_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><response><status>ok</status>'
    b'<video key="tL17msiU"><size>10485760</size></video></response>'
)
NGINX_416 = (
    b"<html>\r\n<head><title>416 Requested Range Not Satisfiable</title></head>\r\n<body>\r\n"
    b"<center><h1>416 Requested Range Not Satisfiable</h1></center>\r\n</body>\r\n</html>\r\n"
)


def test_201_with_header_and_body() -> None:
    answer = classify_segment_answer(
        201, {"range": "0-1234566/96768273", "content-length": "18"}, b"0-1234566/96768273"
    )
    assert answer == Partial(ReceivedRanges(RangeSet.of([(0, 1234566)]), 96768273))


def test_201_body_only() -> None:
    answer = classify_segment_answer(201, {}, b"0-9/40,20-29/40\r\n")
    assert answer == Partial(ReceivedRanges(RangeSet.of([(0, 9), (20, 29)]), 40))


def test_201_header_wins_over_body() -> None:
    answer = classify_segment_answer(201, {"range": "0-19/40"}, b"garbage")
    assert isinstance(answer, Partial)
    assert answer.received.ranges == RangeSet.of([(0, 19)])


@pytest.mark.parametrize("body", [b"", b"ok", b"<html>Created</html>", b"0-99/40", b"\xff\xfe"])
def test_201_without_readable_ranges_raises(body: bytes) -> None:
    with pytest.raises(RangeHeaderError):
        classify_segment_answer(201, {}, body)


def test_200_final_xml() -> None:
    answer = classify_segment_answer(200, {"content-type": "application/xml"}, FINAL_XML)
    assert answer == Complete(
        200, FinalAnswer(status="ok", video_key="tL17msiU", size=10485760), None
    )


@pytest.mark.parametrize("status", [200, 202, 204, 299, 301, 302, 303, 307, 308, 399])
def test_any_2xx_or_3xx_but_201_is_complete(status: int) -> None:
    answer = classify_segment_answer(status, {"location": "http://example.com/p/k"}, FINAL_XML)
    assert isinstance(answer, Complete)
    assert answer.http_status == status
    assert answer.final is not None
    assert answer.final.video_key == "tL17msiU"


def test_303_with_body_and_redirect_link() -> None:
    body = (
        b'{"status": "ok", "media": {"key": "tL17msiU"}, "file": {"size": 10},'
        b' "redirect_link": {"address": "http://example.com/path/tL17msiU", "query": {}}}'
    )
    answer = classify_segment_answer(
        303,
        {"location": "http://example.com/path/tL17msiU", "content-type": "application/json"},
        body,
    )
    assert isinstance(answer, Complete)
    assert answer.problem is None
    assert answer.final is not None
    assert answer.final.size == 10
    assert answer.final.redirect_link is not None
    assert answer.final.redirect_link.address == "http://example.com/path/tL17msiU"


@pytest.mark.parametrize("status", [302, 303, 200, 204])
def test_complete_with_empty_body_has_a_problem(status: int) -> None:
    answer = classify_segment_answer(status, {"location": "http://e.com/"}, b"")
    assert isinstance(answer, Complete)
    assert answer.final is None
    assert answer.problem is not None
    assert "empty" in answer.problem


def test_complete_with_an_unreadable_body_has_a_problem() -> None:
    answer = classify_segment_answer(200, {}, b"<html><body>done</body></html>")
    assert isinstance(answer, Complete)
    assert answer.final is None
    assert answer.problem is not None
    assert "HTML" in answer.problem


def test_200_with_status_error_is_rejected() -> None:
    body = (
        b"<response><status>error</status><code>ParameterInvalid</code>"
        b"<message>bad file</message></response>"
    )
    with pytest.raises(SegmentRejected) as info:
        classify_segment_answer(200, {}, body, session_id="s1")
    assert info.value.http_status == 200
    assert info.value.session_id == "s1"
    assert "ParameterInvalid" in info.value.message
    assert "bad file" in info.value.message


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            b'{"status": "error", "code": "ParameterMissing",'
            b' "message": "X-Session-ID header is missing"}',
            "ParameterMissing: X-Session-ID header is missing",
        ),
        (
            413,
            b"<html><head><title>413 Request Entity Too Large</title></head></html>",
            "HTML page: 413 Request Entity Too Large",
        ),
        (415, b"", "no message"),
        (416, NGINX_416, "HTML page: 416 Requested Range Not Satisfiable"),
        (404, b"not here\r\n  at all", "not here at all"),
        (405, b"<html>", "<html>"),
    ],
)
def test_refusals_for_good(status: int, body: bytes, message: str) -> None:
    with pytest.raises(SegmentRejected) as info:
        classify_segment_answer(status, {"content-type": "text/html"}, body)
    assert info.value.http_status == status
    assert info.value.message == f"upload server answered {status}: {message}"


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (503, "7", 7.0),
        (500, "", None),
        (502, "1.5", 1.5),
        (504, "Wed, 21 Oct 2015 07:28:00 GMT", None),
        (429, " 30 ", 30.0),
        (409, "0", 0.0),
        (408, "-5", None),
        (425, "inf", None),
        (503, "nan", None),
        (503, "1e400", None),
        (503, "\uff19", None),
        (503, "99999999", 86400.0),
    ],
)
def test_transient_refusals_carry_retry_after(
    status: int, retry_after: str, expected: float | None
) -> None:
    headers = {"retry-after": retry_after} if retry_after else {}
    kind = UploadServerBusy if status >= 500 else SegmentRejected
    with pytest.raises(kind) as info:
        classify_segment_answer(status, headers, HTML_503 if status == 503 else b"")
    answer = info.value
    assert answer.http_status == status
    assert answer.retry_after_s == expected
    if status == 503:
        assert answer.message.endswith("HTML page: 503 Service Temporarily Unavailable")


HTML_503 = b"<html><head><title>503 Service Temporarily Unavailable</title></head></html>"


def test_rate_limited_json_is_busy_with_its_code() -> None:
    body = b'{"status": "error", "code": "RateLimitExceeded", "message": "slow down"}'
    with pytest.raises(SegmentRejected) as info:
        classify_segment_answer(429, {"retry-after": "60"}, body)
    assert info.value.http_status == 429
    assert info.value.retry_after_s == 60.0
    assert info.value.message == "upload server answered 429: RateLimitExceeded: slow down"


def test_long_error_bodies_are_cut() -> None:
    with pytest.raises(SegmentRejected) as info:
        classify_segment_answer(400, {}, b"x" * 100_000)
    assert len(info.value.message) <= 512 + len("upload server answered 400: ")
