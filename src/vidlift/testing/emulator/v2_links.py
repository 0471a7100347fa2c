"""Pre-signed upload links of the emulator's v2 half, shaped like S3's query-string
authentication, and S3's XML error bodies (part of the public test kit,
:mod:`vidlift.testing`).

A link is ``{base}/s3/jw-uploads/{upload id}?partNumber=N&uploadId=...&X-Amz-Algorithm=
AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=...&X-Amz-Expires=...&X-Amz-SignedHeaders=
host&X-Amz-Signature=<hex>`` (no ``partNumber``/``uploadId`` for a direct upload). The
signature is an HMAC-SHA256, under a key derived from the API secret, of the method, the
path and every other query parameter sorted: changing any of them, or the expiry, makes
it fail. The emulator's own code: nothing from :mod:`vidlift.protocol`.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Mapping
from enum import StrEnum
from urllib.parse import quote, urlencode

from aiohttp import web

__all__ = ["LINK_PREFIX", "LinkCheck", "check_link", "s3_error", "sign_link"]

LINK_PREFIX = "/s3/jw-uploads"
_SIGNATURE = "X-Amz-Signature"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_S3_MESSAGES = {
    "AccessDenied": "Request has expired",
    "SignatureDoesNotMatch": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    ),
    "NoSuchUpload": (
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed."
    ),
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "MissingContentLength": "You must provide the Content-Length HTTP header.",
    "EntityTooLarge": "Your proposed upload exceeds the maximum allowed size",
    "InvalidArgument": "Part number must be an integer between 1 and 10000, inclusive",
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
}


class LinkCheck(StrEnum):
    """The verdict on a link's query string."""

    VALID = "valid"
    EXPIRED = "expired"
    TAMPERED = "tampered"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), b"vidlift-emulator-upload-links", "sha256").digest()


def _string_to_sign(method: str, path: str, query: Mapping[str, str]) -> bytes:
    pairs = sorted((k, v) for k, v in query.items() if k != _SIGNATURE)
    canonical = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    return f"{method}\n{path}\n{canonical}".encode()


def sign_link(
    secret: str,
    base: str,
    upload_id: str,
    part: int | None,
    *,
    now: float,
    ttl_s: float,
    prefix: str = LINK_PREFIX,
) -> str:
    """A pre-signed PUT link for part ``part`` of an upload (``None``: a direct upload;
    ``prefix``: the path its uploads live under)."""
    path = f"{prefix}/{upload_id}"
    stamp = time.strftime(_DATE_FORMAT, time.gmtime(now))
    query: dict[str, str] = {}
    if part is not None:
        query = {"partNumber": str(part), "uploadId": upload_id}
    query.update(
        {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"EMULATOR/{stamp[:8]}/us-east-1/s3/aws4_request",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": str(max(1, int(ttl_s))),
            "X-Amz-SignedHeaders": "host",
        }
    )
    signature = hmac.new(_key(secret), _string_to_sign("PUT", path, query), "sha256").hexdigest()
    query[_SIGNATURE] = signature
    return f"{base}{path}?{urlencode(query)}"


def check_link(secret: str, path: str, query: Mapping[str, str], now: float) -> LinkCheck:
    """Whether a request's path and query carry a valid, unexpired signature."""
    given = query.get(_SIGNATURE, "")
    expected = hmac.new(_key(secret), _string_to_sign("PUT", path, query), "sha256").hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return LinkCheck.TAMPERED
    try:
        issued = calendar.timegm(time.strptime(query.get("X-Amz-Date", ""), _DATE_FORMAT))
        ttl = int(query.get("X-Amz-Expires", ""))
    except ValueError:
        return LinkCheck.TAMPERED
    return LinkCheck.EXPIRED if now > issued + ttl else LinkCheck.VALID


def s3_error(status: int, code: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """An S3-style XML error answer (``<Error><Code>...</Code><Message>...``)."""
    request_id = hashlib.sha1(f"{code}{time.monotonic_ns()}".encode()).hexdigest()[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{_S3_MESSAGES[code]}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    response = web.Response(status=status, body=body.encode("utf-8"), headers=headers)
    response.headers["Content-Type"] = "application/xml"
    response.headers["x-amz-request-id"] = request_id
    return response
