"""Request headers of an upload segment (protocol layer: pure).

Source: the seed, "Request structure"; RFC 6266 for ``filename*``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from vidlift.errors import LocalProtocolError
from vidlift.protocol.ranges import ByteRange, format_content_range

__all__ = ["content_disposition", "guess_content_type", "segment_headers"]

_FALLBACK_TYPE = "application/octet-stream"
# A fixed table: the stdlib's mimetypes reads system files, which this layer never does.
_TYPES = {
    "3g2": "video/3gpp2",
    "3gp": "video/3gpp",
    "avi": "video/x-msvideo",
    "f4v": "video/mp4",
    "flv": "video/x-flv",
    "m2ts": "video/mp2t",
    "m2v": "video/mpeg",
    "m4a": "audio/mp4",
    "m4v": "video/x-m4v",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
    "mpeg": "video/mpeg",
    "mpg": "video/mpeg",
    "mts": "video/mp2t",
    "mxf": "application/mxf",
    "ogv": "video/ogg",
    "ts": "video/mp2t",
    "wav": "audio/wav",
    "webm": "video/webm",
    "wmv": "video/x-ms-wmv",
}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def guess_content_type(filename: str) -> str:
    """MIME type from the extension; never multipart/form-data; octet-stream otherwise."""
    _, dot, ext = filename.rpartition(".")
    return _TYPES.get(ext.lower(), _FALLBACK_TYPE) if dot else _FALLBACK_TYPE


def content_disposition(filename: str) -> str:
    """``attachment; filename="..."`` with quotes and backslashes escaped; control
    characters replaced; non-ASCII names also as RFC 6266 ``filename*``."""
    name = _UNSAFE.sub("_", filename) or "video"
    # Only non-ASCII characters are replaced: a real "?" in a name stays a "?".
    ascii_name = "".join(c if c.isascii() else "_" for c in name)
    escaped = ascii_name.replace("\\", "\\\\").replace('"', '\\"')
    value = f'attachment; filename="{escaped}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def segment_headers(
    *,
    byte_range: ByteRange,
    total: int,
    session_id: str,
    filename: str,
    content_type: str | None = None,
) -> dict[str, str]:
    """All headers of one segment request, Content-Length exact.

    Raises LocalProtocolError for a session id the server would refuse by closing the
    connection (PROTOCOL.md, "Rejections": only letters, digits, ``_`` and ``-``), and
    for a range that does not fit the file.
    """
    if not _SESSION_ID.fullmatch(session_id):
        raise LocalProtocolError(
            f"session id {session_id[:60]!r} is not 1-200 letters, digits, '_' or '-'"
        )
    ctype = (content_type or guess_content_type(filename)).strip()
    if _UNSAFE.search(ctype) or not ctype.isascii() or "/" not in ctype:
        ctype = _FALLBACK_TYPE  # no header injection, no garbage
    if ctype.lower().startswith("multipart/form-data"):
        ctype = _FALLBACK_TYPE  # the seed: must not be multipart/form-data
    return {
        "Content-Disposition": content_disposition(filename),
        "Content-Type": ctype,
        "Content-Length": str(byte_range.length),
        "X-Content-Range": format_content_range(byte_range, total),
        "X-Session-ID": session_id,
    }
