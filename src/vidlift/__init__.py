"""vidlift: resumable, crash-safe bulk video uploads to JW Platform.

The public names are listed in ``__all__`` (sorted; a test keeps it so).
"""

from vidlift.config import Credentials, RetrySettings, Timeouts, UploadSettings
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
    BatchEvent,
    JobDone,
    JobFailed,
    JobInterrupted,
    JobProgress,
    JobRetrying,
    JobStarted,
    ManifestProblemFound,
)
from vidlift.jobs.facade import Client, UploadResult
from vidlift.jobs.manager import BatchOutcome, BatchSettings
from vidlift.journal.memory import MemoryJournal
from vidlift.journal.sqlite import SqliteJournal
from vidlift.journal.state import JobState
from vidlift.protocol.metadata import VideoMetadata

__all__ = [
    "ApiError",
    "AuthError",
    "BatchEvent",
    "BatchOutcome",
    "BatchSettings",
    "Client",
    "ConfigError",
    "Credentials",
    "JobDone",
    "JobFailed",
    "JobInterrupted",
    "JobProgress",
    "JobRetrying",
    "JobStarted",
    "JobState",
    "ManifestProblemFound",
    "MemoryJournal",
    "RangesShrank",
    "RetrySettings",
    "SegmentRejected",
    "SourceError",
    "SqliteJournal",
    "Timeouts",
    "TransportError",
    "UploadError",
    "UploadResult",
    "UploadSettings",
    "VerificationError",
    "VideoMetadata",
    "VidliftError",
    "__version__",
    "run_batch",
]

__version__ = "0.1.0"
