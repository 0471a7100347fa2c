"""Prometheus metrics of a running batch: ``vidlift run --metrics-port N`` (cli layer).

Fed by the batch's events (:mod:`vidlift.jobs.events`) and, once a second, by the
:class:`~vidlift.cli.view.BatchView` (jobs by state, rate, ETA). Served by
``prometheus-client`` from its own thread on its own registry (``pip install
'vidlift[metrics]'``). docs/OPERATIONS.md lists the metrics with example queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from vidlift.cli.view import BatchView
from vidlift.errors import ConfigError
from vidlift.jobs.events import (
    ApiAnswered,
    BatchEvent,
    BatchRetrying,
    JobAcked,
    JobDone,
    JobFailed,
    JobInterrupted,
    JobProgress,
    JobRetrying,
    JobStarted,
)

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

__all__ = ["MetricsExporter", "SEGMENT_BUCKETS_S"]

SEGMENT_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_PULSE_S = 1.0


class MetricsExporter:
    """The metrics, their HTTP endpoint, and the event sink that feeds them."""

    def __init__(self, view: BatchView, clock: Callable[[], float] = time.monotonic) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        except ImportError:
            raise ConfigError(
                "metrics_port is set, but prometheus-client is not installed: "
                "pip install 'vidlift[metrics]'"
            ) from None
        self.view = view
        self._clock = clock
        self.registry = registry = CollectorRegistry()
        self._jobs = Gauge("vidlift_jobs", "Jobs by state.", ["state"], registry=registry)
        self._in_flight = Gauge("vidlift_files_in_flight", "Files being sent.", registry=registry)
        self._acked = Counter(
            "vidlift_bytes_acknowledged", "Bytes the upload server acknowledged.", registry=registry
        )
        self._sent = Counter("vidlift_bytes_sent", "Bytes sent.", registry=registry)
        self._resent = Counter(
            "vidlift_bytes_resent", "Bytes sent again after a failed segment.", registry=registry
        )
        self._segment = Histogram(
            "vidlift_segment_seconds",
            "From a segment's first bytes to the server's answer.",
            buckets=SEGMENT_BUCKETS_S,
            registry=registry,
        )
        self._retries = Counter(
            "vidlift_retries", "Retries by error class.", ["reason"], registry=registry
        )
        self._api_calls = Counter("vidlift_api_calls", "API answers received.", registry=registry)
        self._quota_left = Gauge(
            "vidlift_api_quota_remaining", "API calls left in the quota window.", registry=registry
        )
        self._quota_limit = Gauge(
            "vidlift_api_quota_limit", "API calls allowed per quota window.", registry=registry
        )
        self._rate = Gauge(
            "vidlift_rate_bytes_per_second", "Bytes sent per second, last 10 s.", registry=registry
        )
        self._eta = Gauge("vidlift_eta_seconds", "Seconds left at that rate.", registry=registry)
        self._segment_started: dict[str, float] = {}
        self._acked_seen: dict[str, int | None] = {}
        self._sent_seen = 0
        self._resent_seen = 0
        self._server: WSGIServer | None = None

    def __call__(self, event: BatchEvent) -> None:
        """Fold one event (after the view has folded it)."""
        now = self._clock()
        if isinstance(event, JobStarted):
            self._acked_seen[event.job_id] = None if event.resumed else 0
            self._segment_started.pop(event.job_id, None)
        elif isinstance(event, JobProgress):
            self._segment_started.setdefault(event.job_id, now)
        elif isinstance(event, JobAcked):
            self._on_acked(event, now)
        elif isinstance(event, JobRetrying):
            self._retries.labels(reason=event.reason or "unknown").inc()
            self._segment_started.pop(event.job_id, None)
        elif isinstance(event, BatchRetrying):
            self._retries.labels(reason=event.reason or "unknown").inc()
        elif isinstance(event, ApiAnswered):
            self._api_calls.inc()
            if event.remaining is not None:
                self._quota_left.set(event.remaining)
            if event.limit is not None:
                self._quota_limit.set(event.limit)
        elif isinstance(event, JobDone | JobFailed | JobInterrupted):
            self._segment_started.pop(event.job_id, None)
            self._acked_seen.pop(event.job_id, None)
        self._count_bytes()

    def _on_acked(self, event: JobAcked, now: float) -> None:
        started = self._segment_started.pop(event.job_id, None)
        if started is not None:
            self._segment.observe(now - started)
        before = self._acked_seen.get(event.job_id)
        if before is not None and event.acked_bytes > before:
            self._acked.inc(event.acked_bytes - before)
        self._acked_seen[event.job_id] = event.acked_bytes

    def _count_bytes(self) -> None:
        view = self.view
        if view.sent_bytes > self._sent_seen:
            self._sent.inc(view.sent_bytes - self._sent_seen)
            self._sent_seen = view.sent_bytes
        if view.resent_bytes > self._resent_seen:
            self._resent.inc(view.resent_bytes - self._resent_seen)
            self._resent_seen = view.resent_bytes

    def refresh(self) -> None:
        """Gauges read from the view: jobs by state, files in flight, rate, ETA."""
        view = self.view
        summary = view.summary()
        in_flight = len(view.active)
        pending = view.total_jobs - view.done_jobs - view.failed_jobs - in_flight
        for state, count in (
            ("pending", max(0, pending)),
            ("in_flight", in_flight),
            ("done", view.done_jobs),
            ("failed", view.failed_jobs),
        ):
            self._jobs.labels(state=state).set(count)
        self._in_flight.set(in_flight)
        self._rate.set(summary["rate_bytes_per_s"])
        self._eta.set(summary["eta_s"] if summary["eta_s"] is not None else float("nan"))

    async def pulse(self) -> None:
        """Refresh the gauges every second."""
        while True:
            self.refresh()
            await anyio.sleep(_PULSE_S)

    def serve(self, port: int, addr: str) -> None:
        """Listen on ``addr:port`` (a thread). Raises ConfigError when it cannot."""
        from prometheus_client import start_http_server

        self.refresh()
        try:
            self._server, _ = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"metrics_port {port}: cannot listen on {addr}:{port} ({exc.strerror}); "
                "choose another port"
            ) from None

    def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
