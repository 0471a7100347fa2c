"""The running emulator: :class:`Emulator`, an async context manager that serves the app on
a TCP port, and :func:`run_forever` for ``vidlift serve`` (part of the public test kit,
:mod:`vidlift.testing`).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from aiohttp import web

from vidlift.testing.emulator.app import build_app
from vidlift.testing.emulator.config import EmulatorConfig
from vidlift.testing.emulator.context import EmulatorContext, RequestLog
from vidlift.testing.emulator.faults import ChangeSignal, FaultInjector, Tally, Throttle
from vidlift.testing.emulator.quota import Quota
from vidlift.testing.emulator.signing import NonceBook
from vidlift.testing.emulator.store import Store, VideoRecord
from vidlift.testing.emulator.v2_store import MediaRecord, V2Store

__all__ = ["Emulator", "run_forever"]

_SHUTDOWN_TIMEOUT_S = 1.0


class Emulator:
    """A local JW Platform: the signed v1 API and the resumable upload server.

    ``async with Emulator(EmulatorConfig()) as emu:`` starts it (port 0: an ephemeral
    port); ``emu.endpoint`` is the API base. Works under anyio's asyncio backend.
    ``on_request`` receives one :class:`RequestLog` per finished request.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        on_request: Callable[[RequestLog], None] | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self._on_request = on_request
        self._owned_dir: Path | None = None
        self._runner: web.AppRunner | None = None
        self._ctx: EmulatorContext | None = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Load the state of ``data_dir`` and start serving."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        data_dir = self.config.data_dir
        if data_dir is None:
            data_dir = self._owned_dir = Path(tempfile.mkdtemp(prefix="vidlift-emulator-"))
        store = Store(Path(data_dir), fsync=self.config.fsync)
        try:
            await store.run(store.load)
            v2 = V2Store(store)
            await store.run(v2.load)
            ctx = self._ctx = self._context(store, v2)
            runner = web.AppRunner(
                build_app(ctx), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S
            )
            await runner.setup()
            self._runner = runner
            site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
            await site.start()
        except BaseException:
            await self.stop()
            raise
        ctx.port = int(runner.addresses[0][1])

    def _context(self, store: Store, v2: V2Store) -> EmulatorContext:
        changes = ChangeSignal()
        faults = FaultInjector(self.config.faults, changes)
        bandwidth = self.config.faults.bandwidth_bytes_per_s
        return EmulatorContext(
            config=self.config,
            store=store,
            faults=faults,
            throttle=Throttle(bandwidth, faults) if bandwidth else None,
            nonces=NonceBook(window_s=self.config.timestamp_window_s),
            quota=Quota(self.config.api_calls_per_minute, self.config.api_window_s),
            changes=changes,
            requests=Tally(changes),
            v2=v2,
            on_request=self._on_request,
        )

    async def stop(self) -> None:
        """Stop serving (in-flight requests get a moment to finish) and release files."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self._ctx is not None:
            await asyncio.to_thread(self._ctx.store.close)
            await asyncio.sleep(0)  # let deferred closes of abandoned segment files run
        if self._owned_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._owned_dir, True)
            self._owned_dir = None

    # ------------------------------------------------------------------ inspection

    @property
    def _context_or_fail(self) -> EmulatorContext:
        if self._ctx is None:
            raise RuntimeError("the emulator has not been started")
        return self._ctx

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self._context_or_fail.port

    @property
    def endpoint(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:8080``."""
        host = self.config.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    @property
    def api_key(self) -> str:
        """The API key it accepts."""
        return self.config.api_key

    @property
    def api_secret(self) -> str:
        """The API secret requests must be signed with."""
        return self.config.api_secret

    @property
    def data_dir(self) -> Path:
        """Where its state lives."""
        return self._context_or_fail.store.data_dir

    def videos(self) -> list[VideoRecord]:
        """Every video, in creation order."""
        return self._context_or_fail.store.videos()

    def video(self, key: str) -> VideoRecord | None:
        """One video, if it exists."""
        return self._context_or_fail.store.video(key)

    def video_file(self, key: str) -> Path | None:
        """The completed file of a video on disk (None before completion, in discard mode)."""
        path = self._context_or_fail.store.media_path(key)
        return path if path.is_file() else None

    def media(self) -> list[MediaRecord]:
        """Every v2 media, in creation order (``status`` is the stored one)."""
        return self._context_or_fail.v2.all_media()

    def media_file(self, media_id: str) -> Path | None:
        """The completed file of a v2 media on disk (None before completion)."""
        path = self._context_or_fail.v2.file_path(media_id)
        return path if path.is_file() else None

    @property
    def site_id(self) -> str:
        """The v2 site id it serves."""
        return self.config.site_id

    def shift_clock(self, seconds: float) -> None:
        """Move the emulator's clock ahead (tests of link expiry and processing time)."""
        ctx = self._context_or_fail
        previous = ctx.clock
        ctx.clock = lambda: previous() + seconds

    def fault_counts(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        return self._context_or_fail.faults.counts()

    def request_counts(self) -> dict[str, int]:
        """Requests by kind (api, api_create, segment, segment_201, ...) and bytes_received."""
        return self._context_or_fail.requests.snapshot()

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait (no polling) until ``condition()`` holds; it is checked again after every
        change of the request or fault counters. Raises TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            await self._context_or_fail.changes.wait_until(condition)


async def run_forever(
    config: EmulatorConfig,
    *,
    on_ready: Callable[[Emulator], None] | None = None,
    on_request: Callable[[RequestLog], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (``vidlift serve``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Emulator(config, on_request=on_request) as emulator:
            if on_ready is not None:
                on_ready(emulator)
            await stop.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
