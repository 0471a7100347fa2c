"""Golden wire files: what a real nginx upload-module server answered (tests/data/wire/).

A small reader pairs each answer's status line, its ``Range:`` header and its
``[body]`` line; every 201 must agree with itself and every final 200 must parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vidlift.errors import SegmentRejected
from vidlift.protocol.answers import parse_final_answer
from vidlift.protocol.documents import decode_document
from vidlift.protocol.ranges import RangeSet, parse_received_ranges
from vidlift.protocol.segment import Complete, Partial, classify_segment_answer

WIRE_DIR = Path(__file__).resolve().parents[2] / "data" / "wire"
WIRE_FILES = sorted(WIRE_DIR.glob("*.txt"))


@dataclass
class WireAnswer:
    """One answer of a transcript: final status, lower-case headers, body text."""

    source: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


def read_answers(path: Path) -> list[WireAnswer]:
    """Answers of a transcript: ``< HTTP/1.1 NNN`` lines (100 Continue skipped), the
    ``< Name: value`` lines after it, and the next ``[body]`` line."""
    answers: list[WireAnswer] = []
    current: WireAnswer | None = None
    # split on "\n" only: HTML bodies keep their "\r" inside the one [body] line
    for number, line in enumerate(path.read_bytes().decode("utf-8").split("\n"), 1):
        if line.startswith("< HTTP/"):
            status = int(line.split()[2])
            if status == 100:
                continue
            current = WireAnswer(f"{path.name}:{number}", status)
        elif line.startswith("< ") and current is not None and ":" in line:
            name, _, value = line[2:].partition(":")
            current.headers[name.strip().lower()] = value.strip()
        elif line.startswith("[body]") and current is not None:
            current.body = line.removeprefix("[body]").strip()
            answers.append(current)
            current = None
    return answers


ANSWERS = [answer for path in WIRE_FILES for answer in read_answers(path)]
PARTIALS = [a for a in ANSWERS if a.status == 201]
FINALS = [a for a in ANSWERS if a.status == 200]


def test_the_transcripts_are_there_and_read() -> None:
    assert [p.name for p in WIRE_FILES] == [
        "1-three-segments.txt",
        "2-interrupt-and-resume.txt",
        "3-rejections-and-edge-cases.txt",
    ]
    # counted by hand from the files: a reader that misses answers fails here
    assert len(PARTIALS) >= 25
    assert len(FINALS) >= 10
    assert {a.status for a in ANSWERS} >= {200, 201, 400, 413, 415, 416}


@pytest.mark.parametrize("answer", PARTIALS, ids=lambda a: a.source)
def test_every_201_range_header_agrees_with_its_body(answer: WireAnswer) -> None:
    from_header = parse_received_ranges(answer.headers["range"])
    from_body = parse_received_ranges(answer.body)
    assert from_header == from_body
    assert answer.headers["range"] == answer.body
    assert int(answer.headers["content-length"]) == len(answer.body)
    assert "content-type" not in answer.headers  # the 201 is plain text, not a document
    classified = classify_segment_answer(201, answer.headers, answer.body.encode())
    assert classified == Partial(from_header)
    body_only = classify_segment_answer(201, {}, answer.body.encode())
    assert body_only == Partial(from_header)


@pytest.mark.parametrize("answer", FINALS, ids=lambda a: a.source)
def test_every_final_200_parses(answer: WireAnswer) -> None:
    document = decode_document(answer.body.encode(), content_type=answer.headers["content-type"])
    final = parse_final_answer(document)
    assert final.status == "ok"
    assert final.video_key == "tL17msiU"
    assert final.size in {10485760, 1000, 1}
    assert final.redirect_link is None
    classified = classify_segment_answer(200, answer.headers, answer.body.encode())
    assert isinstance(classified, Complete)
    assert classified.final == final


def test_ten_mib_finals_report_the_whole_file() -> None:
    sizes = [parse_final_answer(decode_document(a.body.encode())).size for a in FINALS]
    assert sizes.count(10485760) >= 8


def test_the_out_of_order_answer_has_two_ranges_each_with_the_total() -> None:
    split = [a for a in PARTIALS if "," in a.body]
    assert split, "the b2 transcript has a two-range answer"
    received = parse_received_ranges(split[0].body)
    assert received.ranges == RangeSet.of([(0, 3495252), (6990506, 10485759)])
    assert received.total == 10485760
    assert received.ranges.first_gap(received.total) is not None
    assert received.ranges.first_gap(received.total).start == 3495253  # type: ignore[union-attr]


@pytest.mark.parametrize("answer", [a for a in ANSWERS if a.status >= 400], ids=lambda a: a.source)
def test_every_error_answer_is_rejected_for_good(answer: WireAnswer) -> None:
    with pytest.raises(SegmentRejected) as info:
        classify_segment_answer(answer.status, answer.headers, answer.body.encode())
    classified = info.value
    assert classified.http_status == answer.status
    if answer.body.startswith("<html>"):
        # the page's title, not a wall of markup
        assert (
            classified.message.startswith(f"upload server answered {answer.status}: HTML page: ")
            and str(answer.status) in classified.message
            and "<" not in classified.message
        )
    else:
        assert classified.message == (
            f"upload server answered {answer.status}: "
            "no file in request (segment rejected by the upload module)"
        )
