"""vidlift: resumable, crash-safe bulk video uploads to JW Platform.

The public names are listed in ``__all__`` (sorted; a test keeps it so). They are
imported on first use (PEP 562), so that ``vidlift --help`` or ``vidlift status`` do not
pay for aiohttp and the whole upload stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidlift.config import Credentials, Limits, RetrySettings, Timeouts, UploadSettings
    from vidlift.errors import (
        ApiError,
        AuthError,
        ConfigError,
        RangesShrank,
        SegmentRejected,
        SourceError,
        TransportError,
        UploadError,
        VerificationError,
        VidliftError,
    )
    from vidlift.jobs.batch import run_batch
    from vidlift.jobs.events import (
        ApiAnswered,
        BatchEvent,
        BatchRetrying,
        BatchStarted,
        JobAcked,
        JobDone,
        JobFailed,
        JobInterrupted,
        JobProcessing,
        JobProgress,
        JobRetrying,
        JobStarted,
        JobVerifying,
        LibrarySurveyed,
        ManifestProblemFound,
        PosterFailed,
        SourceNoticed,
    )
    from vidlift.jobs.facade import Client, UploadResult
    from vidlift.jobs.manager import BatchOutcome, BatchSettings
    from vidlift.jobs.upload_state import UploadState
    from vidlift.journal.memory import MemoryJournal
    from vidlift.journal.sqlite import SqliteJournal
    from vidlift.journal.state import JobState
    from vidlift.protocol.metadata import VideoMetadata

__all__ = [
    "ApiAnswered",
    "ApiError",
    "AuthError",
    "BatchEvent",
    "BatchOutcome",
    "BatchRetrying",
    "BatchSettings",
    "BatchStarted",
    "Client",
    "ConfigError",
    "Credentials",
    "JobAcked",
    "JobDone",
    "JobFailed",
    "JobInterrupted",
    "JobProcessing",
    "JobProgress",
    "JobRetrying",
    "JobStarted",
    "JobState",
    "JobVerifying",
    "LibrarySurveyed",
    "Limits",
    "ManifestProblemFound",
    "MemoryJournal",
    "PosterFailed",
    "RangesShrank",
    "RetrySettings",
    "SegmentRejected",
    "SourceError",
    "SourceNoticed",
    "SqliteJournal",
    "Timeouts",
    "TransportError",
    "UploadError",
    "UploadResult",
    "UploadSettings",
    "UploadState",
    "VerificationError",
    "VideoMetadata",
    "VidliftError",
    "__version__",
    "run_batch",
]

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    "ApiError": "vidlift.errors",
    "AuthError": "vidlift.errors",
    "BatchEvent": "vidlift.jobs.events",
    "BatchOutcome": "vidlift.jobs.manager",
    "BatchSettings": "vidlift.jobs.manager",
    "BatchRetrying": "vidlift.jobs.events",
    "BatchStarted": "vidlift.jobs.events",
    "Client": "vidlift.jobs.facade",
    "ConfigError": "vidlift.errors",
    "Credentials": "vidlift.config",
    "ApiAnswered": "vidlift.jobs.events",
    "JobAcked": "vidlift.jobs.events",
    "JobDone": "vidlift.jobs.events",
    "JobFailed": "vidlift.jobs.events",
    "JobInterrupted": "vidlift.jobs.events",
    "JobProcessing": "vidlift.jobs.events",
    "JobProgress": "vidlift.jobs.events",
    "JobRetrying": "vidlift.jobs.events",
    "JobStarted": "vidlift.jobs.events",
    "JobState": "vidlift.journal.state",
    "JobVerifying": "vidlift.jobs.events",
    "LibrarySurveyed": "vidlift.jobs.events",
    "Limits": "vidlift.config",
    "ManifestProblemFound": "vidlift.jobs.events",
    "MemoryJournal": "vidlift.journal.memory",
    "PosterFailed": "vidlift.jobs.events",
    "RangesShrank": "vidlift.errors",
    "RetrySettings": "vidlift.config",
    "SegmentRejected": "vidlift.errors",
    "SourceError": "vidlift.errors",
    "SourceNoticed": "vidlift.jobs.events",
    "SqliteJournal": "vidlift.journal.sqlite",
    "Timeouts": "vidlift.config",
    "TransportError": "vidlift.errors",
    "UploadError": "vidlift.errors",
    "UploadResult": "vidlift.jobs.facade",
    "UploadSettings": "vidlift.config",
    "UploadState": "vidlift.jobs.upload_state",
    "VerificationError": "vidlift.errors",
    "VideoMetadata": "vidlift.protocol.metadata",
    "VidliftError": "vidlift.errors",
    "run_batch": "vidlift.jobs.batch",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vidlift' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
