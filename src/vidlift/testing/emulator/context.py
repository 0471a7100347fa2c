"""What every handler of the emulator shares: settings, store, faults, counters, nonce
memory, quota and per-session runtimes (part of the public test kit, :mod:`vidlift.testing`).
"""

from __future__ import annotations

import random
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from vidlift.testing.emulator.config import EmulatorConfig
from vidlift.testing.emulator.faults import ChangeSignal, FaultInjector, Tally, Throttle
from vidlift.testing.emulator.quota import Quota
from vidlift.testing.emulator.runtime import SessionRuntime, StreamHash
from vidlift.testing.emulator.signing import NonceBook
from vidlift.testing.emulator.store import SessionRecord, Store
from vidlift.testing.emulator.v2_store import V2Store

__all__ = ["CONTEXT", "ConnectionDrop", "EmulatorContext", "RequestLog"]

_ALPHANUMERIC = string.ascii_letters + string.digits
_IDS = random.Random(secrets.token_bytes(32))  # seeded once: os.urandom costs ~0.1 ms here


def random_id(length: int) -> str:
    """``length`` random alphanumerics. Not secrets: the emulator guards nothing, and a
    system-random draw per character was its largest CPU cost per create call."""
    return "".join(_IDS.choices(_ALPHANUMERIC, k=length))


class ConnectionDrop(Exception):
    """Raised in a handler to close the connection without any answer, as nginx does for
    requests it refuses outright (../shared/PROTOCOL.md, "Rejections")."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class RequestLog:
    """One finished request, for the request log (no query string: it holds signatures).

    ``status`` is None when the connection was dropped without an answer.
    """

    method: str
    path: str
    status: int | None
    bytes_in: int
    bytes_out: int
    elapsed_ms: float


@dataclass(slots=True)
class EmulatorContext:
    """Shared state of one running emulator."""

    config: EmulatorConfig
    store: Store
    faults: FaultInjector
    throttle: Throttle | None
    nonces: NonceBook
    quota: Quota
    changes: ChangeSignal
    requests: Tally
    v2: V2Store
    runtimes: dict[str, SessionRuntime] = field(default_factory=dict)
    port: int = 0
    on_request: Callable[[RequestLog], None] | None = None
    clock: Callable[[], float] = time.time

    def new_id(self, length: int) -> str:
        """A fresh random alphanumeric id, unused as a video key, session id or upload key."""
        while True:
            candidate = random_id(length)
            if not self.store.has_key(candidate):
                return candidate

    def runtime(self, session: SessionRecord) -> SessionRuntime:
        """The in-memory companion of ``session`` (created on first use)."""
        runtime = self.runtimes.get(session.session_id)
        if runtime is None:
            # After a restart in discard mode the bytes before the gap are gone: no checksum.
            hashable = self.config.checksums and not (self.config.discard and session.ranges)
            runtime = SessionRuntime(hasher=StreamHash() if hashable else None)
            self.runtimes[session.session_id] = runtime
        return runtime


CONTEXT = web.AppKey("vidlift_emulator", EmulatorContext)
