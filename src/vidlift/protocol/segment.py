"""Classifying the answer to one segment request (protocol layer: pure).

Source: the seed ("Response structure") and ../shared/PROTOCOL.md: 201 means incomplete
and carries the received ranges; any other 2xx or 3xx means complete (redirects are not
followed); any other answer is a refusal, raised as an error that carries its facts
(status, message, Retry-After): what a refusal *means* for the upload is decided in one
place, the decision table (``vidlift.jobs.policy``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from vidlift.errors import AnswerParseError, ApiError, SegmentRejected, UploadServerBusy
from vidlift.protocol.answers import parse_final_answer
from vidlift.protocol.documents import decode_document
from vidlift.protocol.models import FinalAnswer
from vidlift.protocol.ranges import ReceivedRanges, parse_received_ranges

__all__ = ["Complete", "Partial", "SegmentAnswer", "classify_segment_answer"]

_DELAY_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?")
_MAX_RETRY_AFTER_S = 24 * 3600.0  # a longer wait is a broken header, not advice
_MAX_MESSAGE_BYTES = 512
_HTML_TITLE = re.compile(r"<title>([^<]{1,200})</title>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Partial:
    """201: the upload is incomplete; the server holds ``received``."""

    received: ReceivedRanges


@dataclass(frozen=True, slots=True)
class Complete:
    """All bytes are in. ``final`` is None when the body could not be read (``problem``)."""

    http_status: int
    final: FinalAnswer | None
    problem: str | None = None


SegmentAnswer = Partial | Complete


def _error_message(body: bytes, content_type: str | None) -> str:
    try:
        doc = decode_document(body, content_type=content_type)
    except AnswerParseError:
        text = body[:_MAX_MESSAGE_BYTES].decode("utf-8", "replace")
        title = _HTML_TITLE.search(text)
        if title:  # an nginx or proxy error page: its title says it all
            return f"HTML page: {' '.join(title.group(1).split())}"
        return " ".join(text.split()) or "no message"
    parts = [str(doc.get(k)) for k in ("code", "message") if doc.get(k)]
    return ": ".join(parts) or "no message"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    # Delay-seconds only; an HTTP-date would need a clock, which this layer never reads.
    raw = headers.get("retry-after", "").strip()
    if not _DELAY_SECONDS.fullmatch(raw):
        return None  # also refuses "inf", "nan", "1e400" and negative values
    return min(float(raw), _MAX_RETRY_AFTER_S)


def _complete(status: int, body: bytes, content_type: str | None, session_id: str) -> Complete:
    try:
        document = decode_document(body, content_type=content_type)
        final = parse_final_answer(document, http_status=status)
    except ApiError as exc:
        raise SegmentRejected(
            f"final answer has status error: {exc.code}: {exc.message}",
            http_status=status,
            session_id=session_id,
        ) from None
    except AnswerParseError as exc:
        return Complete(status, None, str(exc))
    return Complete(status, final)


def classify_segment_answer(
    status: int, headers: Mapping[str, str], body: bytes, *, session_id: str = ""
) -> SegmentAnswer:
    """Classify an answer. ``headers`` keys are lower case.

    Raises RangeHeaderError when a 201 carries unreadable ranges, UploadServerBusy for a
    5xx, SegmentRejected for any other refusal (with its status and Retry-After).
    """
    content_type = headers.get("content-type")
    if status == 201:
        text = headers.get("range") or body.decode("ascii", "replace")
        return Partial(parse_received_ranges(text))
    if 200 <= status < 400:
        return _complete(status, body, content_type, session_id)
    message = _error_message(body, content_type)
    kind = UploadServerBusy if status >= 500 else SegmentRejected
    raise kind(
        f"upload server answered {status}: {message}",
        http_status=status,
        session_id=session_id,
        retry_after_s=_retry_after(headers),
    )
