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
from vidlift.jobs.facade import Client, UploadResult
from vidlift.protocol.metadata import VideoMetadata

__all__ = [
    "ApiError",
    "AuthError",
    "Client",
    "ConfigError",
    "Credentials",
    "RangesShrank",
    "RetrySettings",
    "SegmentRejected",
    "SourceError",
    "Timeouts",
    "TransportError",
    "UploadError",
    "UploadResult",
    "UploadSettings",
    "VerificationError",
    "VideoMetadata",
    "VidliftError",
    "__version__",
]

__version__ = "0.1.0"
