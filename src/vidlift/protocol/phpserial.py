"""A small, safe decoder of PHP ``serialize`` output (protocol layer: pure).

Best effort for ``api_format=php``: arrays, strings, ints, floats, booleans and null.
Objects (``O:``) are refused: nothing is ever instantiated from what a server sent.
"""

from __future__ import annotations

from typing import Any

from vidlift.errors import AnswerParseError

__all__ = ["loads_php"]

_MAX_DEPTH = 64


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, why: str) -> AnswerParseError:
        return AnswerParseError(f"malformed PHP answer at byte {self.pos}: {why}")

    def until(self, stop: bytes) -> bytes:
        end = self.data.find(stop, self.pos)
        if end < 0:
            raise self.fail(f"expected {stop!r}")
        chunk = self.data[self.pos : end]
        self.pos = end + len(stop)
        return chunk

    def expect(self, token: bytes) -> None:
        if self.data[self.pos : self.pos + len(token)] != token:
            raise self.fail(f"expected {token!r}")
        self.pos += len(token)

    def integer(self, stop: bytes) -> int:
        raw = self.until(stop)
        try:
            return int(raw)
        except ValueError:
            raise self.fail(f"bad integer {raw[:20]!r}") from None

    def value(self, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail("nested too deeply")
        kind = self.data[self.pos : self.pos + 2]
        self.pos += 2
        if kind == b"N;":
            return None
        if kind == b"b:":
            return self.integer(b";") != 0
        if kind == b"i:":
            return self.integer(b";")
        if kind == b"d:":
            raw = self.until(b";")
            try:
                return float(raw)
            except ValueError:
                raise self.fail("bad float") from None
        if kind == b"s:":
            return self.string()
        if kind == b"a:":
            return self.array(depth)
        raise self.fail(f"unsupported type {kind!r}")

    def string(self) -> str:
        length = self.integer(b":")
        self.expect(b'"')
        raw = self.data[self.pos : self.pos + length]
        if len(raw) != length:
            raise self.fail("string shorter than its length")
        self.pos += length
        self.expect(b'";')
        return raw.decode("utf-8", "replace")

    def array(self, depth: int) -> dict[str, Any]:
        count = self.integer(b":")
        self.expect(b"{")
        result: dict[str, Any] = {}
        for _ in range(count):
            key = self.value(depth + 1)
            if not isinstance(key, str | int):
                raise self.fail("array key is not a string or integer")
            result[str(key)] = self.value(depth + 1)
        self.expect(b"}")
        return result


def loads_php(data: bytes) -> Any:
    """Decode one serialized PHP value. Raises AnswerParseError on anything unexpected."""
    reader = _Reader(data.strip())
    value = reader.value()  # slices never raise IndexError: a short input fails to match
    if reader.pos != len(reader.data):
        raise reader.fail("trailing data")
    return value
