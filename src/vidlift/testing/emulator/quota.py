"""The emulator's API rate limit: calls per minute per API key, and the ``rate_limit``
block every API answer carries (part of the public test kit, :mod:`vidlift.testing`).

A window opens at a key's first call and lasts 60 s (``window_s``: shorter for benchmarks
that run the real platform's shape faster); ``reset`` is its end as Unix time.
Without a configured limit the block reports :data:`UNLIMITED` and nothing is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["UNLIMITED", "Quota", "RateLimitState"]

UNLIMITED = 1_000_000  # what the block reports when no limit is configured
_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """One ``rate_limit`` block: reset (Unix s), limit, remaining."""

    reset: int
    limit: int
    remaining: int

    def as_dict(self) -> dict[str, object]:
        """The block as plain values, in JW's key order."""
        return {"reset": self.reset, "limit": self.limit, "remaining": self.remaining}


@dataclass(slots=True)
class _Window:
    opened_at: float
    used: int = 0


@dataclass(slots=True)
class Quota:
    """Counts API calls per key in 60-second windows."""

    calls_per_minute: int | None
    window_s: float = _WINDOW_S  # "a minute" of the quota
    _windows: dict[str, _Window] = field(default_factory=dict)

    @property
    def limit(self) -> int:
        """The limit the blocks report."""
        return self.calls_per_minute or UNLIMITED

    def take(self, api_key: str, now: float) -> RateLimitState | None:
        """Count one call; the state after it, or None when the key is over its limit."""
        window = self._window(api_key, now)
        if window.used >= self.limit:
            return None
        window.used += 1
        return self._state(window)

    def peek(self, api_key: str, now: float) -> RateLimitState:
        """The state without counting a call (and without remembering an unknown key)."""
        window = self._windows.get(api_key)
        if window is None or now >= window.opened_at + self.window_s:
            window = _Window(opened_at=now)
        return self._state(window)

    def _window(self, api_key: str, now: float) -> _Window:
        window = self._windows.get(api_key)
        if window is None or now >= window.opened_at + self.window_s:
            window = self._windows[api_key] = _Window(opened_at=now)
        return window

    def _state(self, window: _Window) -> RateLimitState:
        reset = int(window.opened_at + self.window_s + 0.999)
        return RateLimitState(reset=reset, limit=self.limit, remaining=self.limit - window.used)
