"""Upload URL construction from a link block (protocol layer: pure).

Source: the seed, "Upload URL" and "Redirect parameters".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from vidlift.errors import LocalProtocolError
from vidlift.protocol.models import LinkBlock, PutLink

__all__ = ["API_FORMATS", "Redirect", "build_put_url", "build_upload_url"]

API_FORMATS = ("json", "xml", "php", "py")


# RFC 3986 path characters: a path that is already valid (even percent-encoded) is kept.
_PATH_SAFE = "/:@!$&'()*+,;=~"
_PERCENT_ESCAPE = re.compile(r"(%[0-9A-Fa-f]{2})")
# Names this module sets itself; a link block repeating them must not produce duplicates.
_OWN_NAMES = frozenset({"api_format", "key"})


def _quote_path(path: str) -> str:
    # Existing %XX escapes are kept as they are; everything else unsafe is encoded.
    parts = _PERCENT_ESCAPE.split(path)
    return "".join(p if i % 2 else quote(p, safe=_PATH_SAFE) for i, p in enumerate(parts))


def _encode(value: str) -> str:
    # Keep URL-ish characters readable so the seed's examples come out byte for byte.
    return quote(value, safe="/:")


@dataclass(frozen=True, slots=True)
class Redirect:
    """Optional redirect parameters of the upload URL."""

    address: str
    query: Mapping[str, str] = field(default_factory=dict)
    key_in_path: bool | None = None


def build_upload_url(link: LinkBlock, *, api_format: str, redirect: Redirect | None = None) -> str:
    """``protocol://address`` + path + ``?api_format=..&key=..`` (+ other link query params)
    + the optional redirect parameters, in the seed's order.

    Raises LocalProtocolError for an unknown api_format.
    """
    if api_format not in API_FORMATS:
        raise LocalProtocolError(f"api_format must be one of {', '.join(API_FORMATS)}")
    query: list[tuple[str, str]] = [("api_format", api_format), ("key", link.query.key)]
    query.extend(
        (name, value) for name, value in link.query.extra_params().items() if name not in _OWN_NAMES
    )
    if redirect is not None:
        query.append(("redirect_address", redirect.address))
        query.extend((f"redirect_query.{name}", value) for name, value in redirect.query.items())
        if redirect.key_in_path is not None:
            query.append(("key_in_path", "True" if redirect.key_in_path else "False"))
    path = link.path if link.path.startswith("/") else f"/{link.path}"
    text = "&".join(f"{_encode(name)}={_encode(value)}" for name, value in query)
    return f"{link.protocol}://{link.address}{_quote_path(path)}?{text}"


def build_put_url(link: PutLink) -> str:
    """An ``upload_method=s3`` link block as its URL: ``protocol://address`` + path +
    the signed query, every parameter as given (the signature covers them)."""
    path = link.path if link.path.startswith("/") else f"/{link.path}"
    text = "&".join(f"{_encode(name)}={_encode(value)}" for name, value in link.query.items())
    return f"{link.protocol}://{link.address}{_quote_path(path)}" + (f"?{text}" if text else "")
