"""Events a batch emits, for live displays, logs and library users (jobs layer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vidlift.config import Limits

__all__ = [
    "ApiAnswered",
    "BatchEvent",
    "BatchRetrying",
    "BatchStarted",
    "EventSink",
    "JobAcked",
    "JobDone",
    "JobFailed",
    "JobInterrupted",
    "JobProgress",
    "JobRetrying",
    "JobStarted",
    "JobProcessing",
    "JobVerifying",
    "LibrarySurveyed",
    "ManifestProblemFound",
    "PosterFailed",
    "SourceNoticed",
]


@dataclass(frozen=True, slots=True)
class BatchStarted:
    """The batch begins its jobs with these limits (AUTO ones resolved: the files in
    flight and connections it runs with)."""

    limits: Limits


@dataclass(frozen=True, slots=True)
class ManifestProblemFound:
    """A manifest row that became a failed job."""

    location: str
    job_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class JobStarted:
    """A job began (or resumed) its upload."""

    job_id: str
    path: str
    size_bytes: int
    resumed: bool
    newly_sized: int = 0  # bytes no total counted yet: a URL's size, learned on first open


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Bytes of the file done so far (may go backwards when a segment is re-sent)."""

    job_id: str
    done_bytes: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class JobRetrying:
    """A failure that the retry policy will retry after ``delay_s``."""

    job_id: str
    error: str
    delay_s: float
    reason: str = ""  # the error's class name, e.g. "TransportError"


@dataclass(frozen=True, slots=True)
class JobAcked:
    """The upload server acknowledged a segment (or answered a probe): it holds
    ``acked_bytes`` of the file."""

    job_id: str
    acked_bytes: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class ApiAnswered:
    """An API call was answered (an error answer included), with the quota it stated."""

    limit: int | None
    remaining: int | None
    reset_at: float | None


@dataclass(frozen=True, slots=True)
class JobVerifying:
    """Every byte is on the platform; the job now checks its size and md5 there."""

    job_id: str


@dataclass(frozen=True, slots=True)
class JobProcessing:
    """The platform holds the file (verified) and has not finished processing it: the job
    waits for ready (``wait_ready``, a fetched URL, a poster to set)."""

    job_id: str


@dataclass(frozen=True, slots=True)
class JobDone:
    """A verified upload."""

    job_id: str
    path: str
    video_key: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class JobFailed:
    """A job that failed for good (``vidlift retry --failed`` queues it again)."""

    job_id: str
    path: str
    error: str


@dataclass(frozen=True, slots=True)
class JobInterrupted:
    """A job stopped by Ctrl-C/SIGTERM; the next run resumes it."""

    job_id: str
    path: str


@dataclass(frozen=True, slots=True)
class LibrarySurveyed:
    """The platform was asked what it holds of this library (a new or lost journal)."""

    videos_found: int
    api_calls: int


@dataclass(frozen=True, slots=True)
class BatchRetrying:
    """A call the batch makes outside any job (the survey of the platform, a metadata
    update) failed and is retried after ``delay_s`` (an unreachable platform, a 5xx)."""

    step: str  # "surveying the platform", "updating metadata"
    error: str
    delay_s: float
    reason: str = ""  # the error's class name


@dataclass(frozen=True, slots=True)
class SourceNoticed:
    """Something the operator should know about a source, not a failure (an origin that
    ignores Range requests and is read as one stream)."""

    message: str


@dataclass(frozen=True, slots=True)
class PosterFailed:
    """The row's poster (thumbnail_download_url) could not be set; the video is done."""

    job_id: str
    path: str
    error: str


BatchEvent = (
    BatchStarted
    | ManifestProblemFound
    | LibrarySurveyed
    | BatchRetrying
    | JobStarted
    | JobProgress
    | JobRetrying
    | JobAcked
    | ApiAnswered
    | JobVerifying
    | JobProcessing
    | JobDone
    | JobFailed
    | JobInterrupted
    | PosterFailed
    | SourceNoticed
)
EventSink = Callable[[BatchEvent], None]
