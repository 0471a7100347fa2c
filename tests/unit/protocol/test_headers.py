"""Segment request headers: Content-Disposition, Content-Type, exact lengths."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidlift.errors import LocalProtocolError
from vidlift.protocol.headers import content_disposition, guess_content_type, segment_headers
from vidlift.protocol.ranges import ByteRange, parse_content_range

SESSION = "kwJei9j2vtQmcbojrlGJY3mbJFMHfzZwPXBwoSQr"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("video.mpeg", 'attachment; filename="video.mpeg"'),
        ('my "best" clip.mp4', 'attachment; filename="my \\"best\\" clip.mp4"'),
        ("back\\slash.mov", 'attachment; filename="back\\\\slash.mov"'),
        ("what?.mp4", 'attachment; filename="what?.mp4"'),
        ("100% fun;=.mkv", 'attachment; filename="100% fun;=.mkv"'),
        ("", 'attachment; filename="video"'),
        (
            "démo.mp4",
            "attachment; filename=\"d_mo.mp4\"; filename*=UTF-8''d%C3%A9mo.mp4",
        ),
        (
            "日本 語.mov",
            'attachment; filename="__ _.mov"; '
            "filename*=UTF-8''%E6%97%A5%E6%9C%AC%20%E8%AA%9E.mov",
        ),
    ],
)
def test_content_disposition(name: str, expected: str) -> None:
    assert content_disposition(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "evil.mp4\r\nX-Session-ID: other",
        "evil\n.mp4",
        "evil\r.mp4",
        "nul\x00.mp4",
        "del\x7f.mp4",
        "tab\t.mp4",
        "nel\x85.mp4",
        "ls\u2028.mp4",
    ],
)
def test_content_disposition_never_injects_a_header(name: str) -> None:
    value = content_disposition(name)
    assert value.isascii()
    assert not any(c in value for c in "\r\n\x00\x7f\t")
    assert value.startswith('attachment; filename="')


def read_quoted_string(text: str) -> tuple[str, str]:
    """RFC 9110 quoted-string at the start of ``text``: (its value, the rest)."""
    assert text.startswith('"')
    value, i = [], 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            value.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(value), text[i + 1 :]
        else:
            value.append(char)
            i += 1
    raise AssertionError(f"unterminated quoted-string in {text!r}")


def _visible(name: str) -> str:
    return "".join("_" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in name) or "video"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_property_content_disposition_is_one_safe_ascii_line(name: str) -> None:
    value = content_disposition(name)
    assert all(0x20 <= ord(c) < 0x7F for c in value)  # one line of visible ASCII
    assert value.startswith("attachment; filename=")
    filename, rest = read_quoted_string(value.removeprefix("attachment; filename="))
    visible = _visible(name)
    assert filename == "".join(c if c.isascii() else "_" for c in visible)
    if visible.isascii():
        assert rest == ""
    else:  # RFC 6266: the full name, percent-encoded UTF-8
        assert rest.startswith("; filename*=UTF-8''")
        assert unquote(rest.removeprefix("; filename*=UTF-8''"), errors="strict") == visible


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("a.mp4", "video/mp4"),
        ("A.MOV", "video/quicktime"),
        ("a.webm", "video/webm"),
        ("a.mkv", "video/x-matroska"),
        ("clip.final.mpeg", "video/mpeg"),
        ("a.ts", "video/mp2t"),
        (".mp4", "video/mp4"),
        ("noext", "application/octet-stream"),
        ("a.unknownext", "application/octet-stream"),
        ("a.", "application/octet-stream"),
        ("a.tar.gz", "application/octet-stream"),
    ],
)
def test_guess_content_type(name: str, ctype: str) -> None:
    assert guess_content_type(name) == ctype


def test_segment_headers_match_the_seed_example() -> None:
    headers = segment_headers(
        byte_range=ByteRange(0, 1234566), total=96768273, session_id=SESSION, filename="video.mpeg"
    )
    assert headers == {
        "Content-Disposition": 'attachment; filename="video.mpeg"',
        "Content-Type": "video/mpeg",
        "Content-Length": "1234567",
        "X-Content-Range": "bytes 0-1234566/96768273",
        "X-Session-ID": SESSION,
    }


def test_segment_headers_fall_back_to_octet_stream() -> None:
    headers = segment_headers(
        byte_range=ByteRange(0, 0), total=1, session_id="s", filename="video.bin"
    )
    assert headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    "given_type",
    [
        "multipart/form-data",
        "Multipart/Form-Data; boundary=xyz",
        "video/mp4\r\nX-Evil: 1",
        "vidéo/mp4",
        "nonsense",
        "  ",
    ],
)
def test_segment_headers_never_send_multipart_or_garbage(given_type: str) -> None:
    headers = segment_headers(
        byte_range=ByteRange(0, 9),
        total=10,
        session_id="s",
        filename="a.mp4",
        content_type=given_type,
    )
    assert headers["Content-Type"] in {"application/octet-stream", "video/mp4"}
    assert "multipart" not in headers["Content-Type"].lower()


def test_segment_headers_keep_a_valid_given_type() -> None:
    headers = segment_headers(
        byte_range=ByteRange(0, 9),
        total=10,
        session_id="s",
        filename="a.bin",
        content_type="video/x-custom",
    )
    assert headers["Content-Type"] == "video/x-custom"


@pytest.mark.parametrize("session_id", ["", "../etc.x", "a b", "a\r\nX: y", "é", "x" * 201])
def test_segment_headers_refuse_a_session_id_the_server_would_drop(session_id: str) -> None:
    with pytest.raises(LocalProtocolError, match="session id"):
        segment_headers(byte_range=ByteRange(0, 0), total=1, session_id=session_id, filename="a")


def test_segment_headers_refuse_a_range_outside_the_file() -> None:
    with pytest.raises(LocalProtocolError):
        segment_headers(byte_range=ByteRange(0, 10), total=10, session_id="s", filename="a")


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 30 * 10**9).flatmap(
        lambda total: st.tuples(
            st.just(total),
            st.integers(0, total - 1).flatmap(
                lambda start: st.tuples(st.just(start), st.integers(start, total - 1))
            ),
        )
    )
)
def test_property_content_length_is_the_range_length(case: tuple[int, tuple[int, int]]) -> None:
    total, (start, end) = case
    headers = segment_headers(
        byte_range=ByteRange(start, end), total=total, session_id="s-1_A", filename="v.mp4"
    )
    assert int(headers["Content-Length"]) == end - start + 1
    assert parse_content_range(headers["X-Content-Range"]) == (ByteRange(start, end), total)
