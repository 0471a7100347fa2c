"""JW Platform API v1 request signing (protocol layer: pure, no clock, no randomness).

The caller passes the nonce and timestamp in, so signing is repeatable and testable.
Source: ../shared/PROTOCOL.md, "Signing (JW Platform API v1)".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from vidlift.errors import LocalProtocolError

__all__ = [
    "ParamValue",
    "percent_encode",
    "sign_params",
    "signature_base_string",
    "signed_params",
]

ParamValue = str | int | Sequence[str]

_MAX_NONCE = 999_999_999  # nine digits, zero padded (jwplatform-py v1 client)


def percent_encode(value: str) -> str:
    """UTF-8 percent-encoding leaving only ``A-Z a-z 0-9 _ . - ~`` literal (space is %20)."""
    return quote(value.encode("utf-8"), safe="~")


def _pairs(params: Mapping[str, ParamValue]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    # Sorted by raw name, like the official Python client (PROTOCOL.md: the docs sort by
    # the encoded name; the two differ only for non-ASCII names).
    for name in sorted(params):
        if name == "api_signature":
            continue
        value = params[name]
        # A list contributes one name=value per item; anything else (str, int, bool)
        # is one value, as str() makes it (PROTOCOL.md, "Signing").
        items: list[object] = (
            list(value)
            if isinstance(value, Sequence) and not isinstance(value, str | bytes)
            else [value]
        )
        pairs.extend((name, str(item)) for item in items)
    return pairs


def signature_base_string(params: Mapping[str, ParamValue]) -> str:
    """The string that is hashed: ``name=value`` pairs, sorted by name, joined by ``&``."""
    return "&".join(f"{percent_encode(n)}={percent_encode(v)}" for n, v in _pairs(params))


def sign_params(params: Mapping[str, ParamValue], api_secret: str) -> str:
    """Hex SHA-1 of the base string followed by the secret."""
    base = signature_base_string(params) + api_secret
    return hashlib.sha1(base.encode("utf-8"), usedforsecurity=False).hexdigest()


def signed_params(
    params: Mapping[str, ParamValue],
    *,
    api_key: str,
    api_secret: str,
    nonce: int,
    timestamp: int,
    api_format: str = "json",
    api_kit: str | None = None,
) -> dict[str, ParamValue]:
    """Add ``api_key``, ``api_nonce`` (9 digits, zero padded like the official client),
    ``api_timestamp``, ``api_format``, ``api_kit`` (if given) and ``api_signature``.

    Raises LocalProtocolError for a nonce that is not 0..999999999 or a negative timestamp.
    """
    if not 0 <= nonce <= _MAX_NONCE:
        raise LocalProtocolError(f"api_nonce must be 0..{_MAX_NONCE}, got {nonce}")
    if timestamp < 0:
        raise LocalProtocolError(f"api_timestamp must not be negative, got {timestamp}")
    full: dict[str, ParamValue] = dict(params)
    full.update(
        api_key=api_key,
        api_nonce=f"{nonce:09d}",
        api_timestamp=str(timestamp),
        api_format=api_format,
    )
    if api_kit is not None:
        full["api_kit"] = api_kit
    full["api_signature"] = sign_params(full, api_secret)
    return full
