"""The emulator's own check of JW Platform API v1 signatures, and its nonce memory (part of
the public test kit, :mod:`vidlift.testing`).

Written apart from :mod:`vidlift.protocol` on purpose: a bug in the client's signing must
not be hidden by the same bug here (../shared/STYLE.md). The rules are those of
../shared/PROTOCOL.md, "Signing".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "NonceBook",
    "percent_encode",
    "signature_base",
    "signature_for",
    "signature_matches",
]

# Only these bytes stay literal; everything else is %XX of its UTF-8 bytes (space is %20).
_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_SIGNATURE_PARAM = "api_signature"


def percent_encode(text: str) -> str:
    """Percent-encode ``text`` as UTF-8, leaving only ``A-Za-z0-9_.-~`` literal."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        out.append(chr(byte) if byte in _LITERAL else f"%{byte:02X}")
    return "".join(out)


def signature_base(params: Iterable[tuple[str, str]], *, sort_encoded: bool = False) -> str:
    """The signature base string: every pair but ``api_signature``, sorted by name.

    Repeated names keep their order (the sort is stable). JW's docs sort by the encoded
    name, its Python client by the raw name; they differ only for non-ASCII names.
    """
    pairs = [
        (percent_encode(name), percent_encode(value), name)
        for name, value in params
        if name != _SIGNATURE_PARAM
    ]
    pairs.sort(key=(lambda p: p[0]) if sort_encoded else (lambda p: p[2]))
    return "&".join(f"{name}={value}" for name, value, _raw in pairs)


def signature_for(
    params: Iterable[tuple[str, str]], secret: str, *, sort_encoded: bool = False
) -> str:
    """Hex SHA-1 of the base string followed by the secret."""
    base = signature_base(params, sort_encoded=sort_encoded)
    return hashlib.sha1((base + secret).encode("utf-8")).hexdigest()


def signature_matches(params: Sequence[tuple[str, str]], secret: str, signature: str) -> bool:
    """True when ``signature`` signs ``params`` under either documented name order."""
    given = signature.strip().lower()
    if hmac.compare_digest(signature_for(params, secret), given):
        return True
    if all(name.isascii() for name, _ in params):
        return False
    return hmac.compare_digest(signature_for(params, secret, sort_encoded=True), given)


@dataclass(slots=True)
class NonceBook:
    """Nonces seen per API key, each remembered until its request can no longer be valid.

    A request is valid while its timestamp is within ``window_s`` of the clock, so a nonce
    must be remembered until ``timestamp + window_s`` (plus the same again for clock skew).
    """

    window_s: float
    _seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _next_prune: float = 0.0

    def use(self, api_key: str, nonce: str, timestamp: float, now: float) -> bool:
        """Record a nonce; False when it was already used within the window (a replay)."""
        if now >= self._next_prune:
            self._prune(now)
        slot = (api_key, nonce)
        if slot in self._seen:
            return False
        self._seen[slot] = max(timestamp, now) + 2 * self.window_s
        return True

    def _prune(self, now: float) -> None:
        self._seen = {slot: until for slot, until in self._seen.items() if until > now}
        self._next_prune = now + self.window_s / 10
