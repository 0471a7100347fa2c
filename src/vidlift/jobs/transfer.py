"""The upload loop of one file: segments in order, probe and resume on failure (jobs layer).

Drives the pure :class:`~vidlift.protocol.session.UploadSession` with the client's
:class:`~vidlift.client.uploader.SegmentSender` and asks the :class:`RetryPolicy` what to
do after each failure. RangesShrank is *not* handled here: it needs the API, so it goes
up to the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from vidlift.client.source import SourceFile, SourceReader
from vidlift.client.uploader import SegmentSender, UploadTarget
from vidlift.errors import (
    RangesShrank,
    SegmentRejected,
    UploadError,
    UploadServerBusy,
    VidliftError,
)
from vidlift.jobs.pacing import AdaptiveGate
from vidlift.jobs.policy import RetryCallback, RetryPolicy, Verdict
from vidlift.protocol.ranges import RangeSet
from vidlift.protocol.segment import Busy, Complete, Partial, Rejected, SegmentAnswer
from vidlift.protocol.session import Finish, SendSegment, UploadSession

__all__ = ["TransferInterrupted", "TransferResult", "TransferStats", "run_transfer"]

ProgressCallback = Callable[[int], None]
AckedCallback = Callable[[RangeSet], Awaitable[None]]


class TransferInterrupted(Exception):
    """A stop was requested between segments; the journal keeps what was acknowledged."""


@dataclass(slots=True)
class TransferStats:
    """What one transfer cost on the wire."""

    segments_sent: int = 0
    probes_sent: int = 0
    bytes_sent: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class TransferResult:
    """The server's final answer and, when asked for, the source's md5."""

    answer: Complete
    md5: str | None


def _accept(answer: SegmentAnswer, target: UploadTarget, path: str) -> Partial | Complete:
    if isinstance(answer, Busy):
        raise UploadServerBusy(
            f"upload server answered {answer.http_status}: {answer.message}",
            http_status=answer.http_status,
            path=path,
            session_id=target.session_id,
            retry_after_s=answer.retry_after_s,
        )
    if isinstance(answer, Rejected):
        raise SegmentRejected(
            f"upload server refused the segment with {answer.http_status}: {answer.message}",
            http_status=answer.http_status,
            path=path,
            session_id=target.session_id,
        )
    return answer


class _Transfer:
    """State of one running transfer (kept small; the loop is :func:`run_transfer`)."""

    def __init__(
        self, session: UploadSession, stats: TransferStats, on_progress: ProgressCallback | None
    ) -> None:
        self.session = session
        self.stats = stats
        self.on_progress = on_progress
        self.in_segment = 0

    def sent(self, n_bytes: int) -> None:
        self.stats.bytes_sent += n_bytes
        self.in_segment += n_bytes
        if self.on_progress is not None:
            self.on_progress(self.session.acked_bytes + self.in_segment)

    def settle(self) -> None:
        # Progress may go backwards: bytes of a failed segment no longer count.
        self.in_segment = 0
        if self.on_progress is not None:
            self.on_progress(self.session.acked_bytes)


async def _send(
    sender: SegmentSender,
    reader: SourceReader,
    target: UploadTarget,
    action: SendSegment,
    state: _Transfer,
) -> None:
    stats = state.stats
    if action.probe:
        stats.probes_sent += 1
    else:
        stats.segments_sent += 1
    answer = await sender.send(target, reader, action.byte_range, on_sent=state.sent)
    state.session.receive(_accept(answer, target, str(reader.source.path)))


async def run_transfer(
    *,
    sender: SegmentSender,
    source: SourceFile,
    target: UploadTarget,
    session: UploadSession,
    policy: RetryPolicy,
    piece_bytes: int = 1024 * 1024,
    on_progress: ProgressCallback | None = None,
    on_acked: AckedCallback | None = None,
    on_retry: RetryCallback | None = None,
    stats: TransferStats | None = None,
    compute_md5: bool = True,
    gate: AdaptiveGate | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TransferResult:
    """Send the file's missing bytes until the server answers "complete".

    Raises RangesShrank (ask the API), SourceError, SegmentRejected, or UploadError
    when the policy gives up; each names the file and the session.
    """
    state = _Transfer(session, stats or TransferStats(), on_progress)
    failures = 0
    async with source.open(piece_bytes, hash_md5=compute_md5) as reader:
        while True:
            if should_stop is not None and should_stop():
                raise TransferInterrupted(str(source.path))
            action = session.next_action()
            if isinstance(action, Finish):
                md5 = await reader.md5_hexdigest() if compute_md5 else None
                return TransferResult(action.answer, md5)
            try:
                await source.check_unchanged()
                if gate is None:
                    await _send(sender, reader, target, action, state)
                else:
                    async with gate:
                        await _send(sender, reader, target, action, state)
            except VidliftError as exc:
                if (
                    gate is not None
                    and isinstance(exc, UploadServerBusy)
                    and exc.http_status == 503
                ):
                    gate.overloaded()
                if session.in_flight is not None:
                    session.interrupted()
                state.settle()
                failures += 1
                state.stats.failures += 1
                await _after_failure(exc, failures, policy, target, str(source.path), on_retry)
                continue
            state.settle()
            if not action.probe:
                failures = 0
            if on_acked is not None:
                await on_acked(session.acked)


async def _after_failure(
    exc: VidliftError,
    failures: int,
    policy: RetryPolicy,
    target: UploadTarget,
    path: str,
    on_retry: RetryCallback | None,
) -> None:
    decision = policy.decide(exc, failures)
    if decision.verdict in (Verdict.RETRY, Verdict.WAIT):
        if on_retry is not None:
            on_retry(exc, decision.delay_s)
        await anyio.sleep(decision.delay_s)
        return
    if decision.verdict is Verdict.GIVE_UP and policy.classify(exc) is Verdict.RETRY:
        last = exc.message if isinstance(exc, UploadError) else str(exc)
        raise UploadError(
            f"gave up after {failures} failed attempts in a row; last: {last}",
            path=path,
            session_id=target.session_id,
        ) from exc
    if isinstance(exc, UploadError) and exc.session_id:
        raise exc
    if isinstance(exc, RangesShrank):
        raise RangesShrank(str(exc), path=path, session_id=target.session_id) from exc
    raise exc
