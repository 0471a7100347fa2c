"""Whether the platform answers at all, across every job of a batch (jobs layer).

A platform that cannot be reached is not a failure of each job: while no request of
the batch gets an answer, the job loop waits (with its back-off) without counting the
failures against the job, for at most ``limit_s``; then the batch stops with every job
left as it was (PlatformUnreachable), so that the next run simply goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vidlift.errors import ConnectError, PlatformUnreachable

__all__ = ["Reachability"]


class Reachability:
    """Tracks the time since the platform last answered anything."""

    def __init__(self, limit_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_s = limit_s
        self._clock = clock
        self._down_since: float | None = None

    def answered(self) -> None:
        """A request was answered: the platform is reachable."""
        self._down_since = None

    def unreachable(self, error: BaseException) -> bool:
        """True when ``error`` says the platform could not be reached (nothing was sent).

        Raises PlatformUnreachable once that has lasted longer than ``limit_s``.
        """
        if not isinstance(error, ConnectError):
            return False
        now = self._clock()
        if self._down_since is None:
            self._down_since = now
        elif now - self._down_since > self.limit_s:
            raise PlatformUnreachable(
                f"the platform could not be reached for {now - self._down_since:.0f} s "
                f"(last: {error}); every job is left as it was: run again once it answers"
            )
        return True
