"""Small helpers for the words the CLI prints (cli layer)."""

from __future__ import annotations

__all__ = ["count_of", "without_prefix"]


def count_of(count: int, singular: str, plural: str | None = None) -> str:
    """``count_of(1, "segment")`` -> ``1 segment``; ``count_of(2, "segment")`` -> ``2 segments``."""
    word = singular if count == 1 else (plural or singular + "s")
    return f"{count} {word}"


def without_prefix(text: str, prefix: str) -> str:
    """``text`` without a leading ``prefix: `` (a path already printed before it)."""
    return text.removeprefix(f"{prefix}: ") if prefix else text
