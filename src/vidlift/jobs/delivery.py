"""One file from "session obtained" to "verified on the platform" (jobs layer).

Runs the transfer; when the server's ranges shrink (a completed session forgotten, or a
reset), asks videos/show before sending anything again, so a finished upload is never
sent twice; then checks the platform's size and md5 against the source.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from vidlift.client.api import ApiClient
from vidlift.client.source import SourceFile
from vidlift.client.uploader import SegmentSender, UploadTarget
from vidlift.errors import RangesShrank, VerificationError
from vidlift.jobs.pacing import AdaptiveGate
from vidlift.jobs.policy import RetryCallback, RetryPolicy, call_with_retries
from vidlift.jobs.transfer import AckedCallback, ProgressCallback, TransferStats, run_transfer
from vidlift.protocol.models import FinalAnswer, VideoInfo
from vidlift.protocol.session import UploadSession

__all__ = ["Delivery", "DeliveryResult", "Hooks", "deliver_file"]

# videos/show statuses that mean the platform has the whole file.
_HAS_FILE = frozenset({"ready", "processing", "updating"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """Everything needed to upload one file into an existing session."""

    source: SourceFile
    video_key: str | None
    upload_url: str
    session_id: str
    session: UploadSession


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A verified upload."""

    video_key: str | None
    size_bytes: int
    md5: str | None
    final: FinalAnswer | None
    stats: TransferStats


@dataclass(slots=True)
class Hooks:
    """Optional observers of a delivery."""

    on_progress: ProgressCallback | None = None
    on_acked: AckedCallback | None = None
    on_retry: RetryCallback | None = None
    on_verifying: Callable[[], Awaitable[None]] | None = None
    should_stop: Callable[[], bool] | None = None


def _check_final(final: FinalAnswer | None, delivery: Delivery) -> None:
    source = delivery.source
    if final is not None and final.size is not None and final.size != source.size_bytes:
        raise VerificationError(
            f"the server reports {final.size} bytes received, the file has {source.size_bytes}",
            path=str(source.path),
            session_id=delivery.session_id,
        )


def _check_platform(info: VideoInfo, delivery: Delivery, md5: str | None) -> None:
    source = delivery.source
    where = {"path": str(source.path), "session_id": delivery.session_id}
    if info.status == "failed":
        raise VerificationError(f"the platform reports video {info.key} as failed", **where)
    if info.size is not None and info.size != source.size_bytes:
        raise VerificationError(
            f"the platform has {info.size} bytes for video {info.key}, the file has "
            f"{source.size_bytes}",
            **where,
        )
    if md5 is not None and info.md5 is not None and info.md5.lower() != md5:
        raise VerificationError(
            f"the platform's md5 {info.md5} for video {info.key} differs from the file's {md5}",
            **where,
        )


async def deliver_file(
    delivery: Delivery,
    *,
    sender: SegmentSender,
    api: ApiClient | None,
    policy: RetryPolicy,
    piece_bytes: int,
    hooks: Hooks | None = None,
    gate: AdaptiveGate | None = None,
    verify_md5: bool = True,
) -> DeliveryResult:
    """Upload, reconcile if needed, verify. Raises UploadError subclasses naming the file."""
    hooks = hooks or Hooks()
    source = delivery.source
    target = UploadTarget(delivery.upload_url, delivery.session_id, source.path.name)
    stats = TransferStats()
    while True:
        try:
            result = await run_transfer(
                sender=sender,
                source=source,
                target=target,
                session=delivery.session,
                policy=policy,
                piece_bytes=piece_bytes,
                on_progress=hooks.on_progress,
                on_acked=hooks.on_acked,
                on_retry=hooks.on_retry,
                stats=stats,
                gate=gate,
                should_stop=hooks.should_stop,
                compute_md5=verify_md5,
            )
        except RangesShrank as exc:
            if api is None or delivery.video_key is None:
                raise RangesShrank(
                    f"{exc}; without API access vidlift cannot tell whether the upload "
                    "completed: check the video on the platform before uploading again",
                    path=str(source.path),
                    session_id=delivery.session_id,
                ) from exc
            info = await _show(api, delivery.video_key, policy)
            if info.status in _HAS_FILE and info.size == source.size_bytes:
                return await _verified(
                    delivery, None, None, stats, api, policy, hooks, verify_md5=verify_md5
                )
            delivery.session.restart_after_reset()
            continue
        final = result.answer.final
        _check_final(final, delivery)
        return await _verified(
            delivery, final, result.md5, stats, api, policy, hooks, verify_md5=verify_md5
        )


async def _show(api: ApiClient, video_key: str, policy: RetryPolicy) -> VideoInfo:
    return await call_with_retries(policy, lambda: api.show_video(video_key))


async def _verified(
    delivery: Delivery,
    final: FinalAnswer | None,
    md5: str | None,
    stats: TransferStats,
    api: ApiClient | None,
    policy: RetryPolicy,
    hooks: Hooks,
    *,
    verify_md5: bool,
) -> DeliveryResult:
    if hooks.on_verifying is not None:
        await hooks.on_verifying()
    video_key = delivery.video_key or (final.video_key if final else None)
    # Without md5 verification, a final answer that states the size (already checked
    # against the file) is enough: no videos/show call.
    size_known = final is not None and final.size is not None
    if api is not None and video_key is not None and (verify_md5 or not size_known):
        if md5 is None and verify_md5:
            async with delivery.source.open() as reader:
                md5 = await reader.md5_hexdigest()
        _check_platform(await _show(api, video_key, policy), delivery, md5)
    return DeliveryResult(video_key, delivery.source.size_bytes, md5, final, stats)
