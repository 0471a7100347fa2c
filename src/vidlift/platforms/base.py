"""What the job loop needs from a video platform: the ``Platform`` seam (platforms layer).

A platform creates a video exactly once (and finds it again after a lost answer), opens
or reopens an upload, sends the bytes, says what it holds, and verifies. Every method
raises only :mod:`vidlift.errors` classes and none retries or sleeps: the job loop
(:mod:`vidlift.jobs.job`) looks each failure up in the one decision table and calls
again. A second API is a second implementation, never a branch in the job loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from vidlift.client.reading import RangeReader
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.models import FinalAnswer
from vidlift.protocol.ranges import RangeSet

__all__ = [
    "AckedCallback",
    "BatchListing",
    "FinishedUpload",
    "LibraryPage",
    "Platform",
    "RemoteVideo",
    "SentCallback",
    "Transfer",
    "UploadHandle",
    "VerifyBatch",
]

SentCallback = Callable[[int], None]
"""Called with the bytes put on the wire for the request in flight (progress)."""
AckedCallback = Callable[[RangeSet], Awaitable[None]]
"""Called with every new state of what the platform holds (to persist it)."""

# Statuses that mean the platform has the whole file (v1 videos/show, v2 media).
HOLDS_FILE = frozenset({"ready", "processing", "updating"})


@dataclass(frozen=True, slots=True)
class RemoteVideo:
    """What the platform holds for one video."""

    key: str
    status: str
    size_bytes: int | None = None
    md5: str | None = None
    marker: str | None = None  # v1 custom.vidlift_job_id, v2 external_id
    error_message: str | None = None
    tag: str | None = None  # the source's digest it was created for, if recorded

    def holds(self, size_bytes: int) -> bool:
        """True when the platform has a whole file of ``size_bytes``."""
        return self.status in HOLDS_FILE and self.size_bytes == size_bytes


@dataclass(frozen=True, slots=True)
class LibraryPage:
    """One page of a library's videos, and how many there are in all."""

    videos: tuple[RemoteVideo, ...]
    total: int


@dataclass(frozen=True, slots=True)
class VerifyBatch:
    """The listing through which a video created by this process can be confirmed: one
    listing call answers for every video of the batch."""

    name: str
    members: int  # videos created into it so far
    closed: bool  # no more will be


@dataclass(frozen=True, slots=True)
class UploadHandle:
    """What the journal keeps to resume an upload.

    ``upload_id`` is shown in messages (v1: the session id; v2: the upload id);
    ``upload_secret`` is not (v1: the upload URL with its token; v2: the upload token).
    """

    video_key: str
    upload_id: str
    upload_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class FinishedUpload:
    """The platform has every byte. ``final`` is v1's final answer, when readable."""

    final: FinalAnswer | None = None
    size_bytes: int | None = None  # what the platform said it received, if it said


class Transfer(Protocol):
    """One upload's sending state (v1: a resumable session; v2: parts)."""

    @property
    def acked(self) -> RangeSet:
        """Bytes the platform holds, as far as known."""
        ...

    @property
    def requests_sent(self) -> int:
        """Requests that carried file bytes (segments or parts), probes excluded."""
        ...

    async def run(
        self, reader: RangeReader, *, on_sent: SentCallback, on_acked: AckedCallback
    ) -> FinishedUpload:
        """Send what is missing until the platform has the whole file.

        Raises the FIRST failure and keeps its state: calling ``run`` again resumes
        (v1 probes first). Never retries or sleeps.
        """
        ...

    def restart(self) -> None:
        """The platform lost the upload's bytes: send everything again."""
        ...


class Platform(Protocol):
    """A video platform as the job loop uses it."""

    async def find(self, marker: str, tags: Collection[str | None]) -> RemoteVideo | None:
        """The video created earlier for ``marker`` whose source tag is one of ``tags``
        (or unset), if any. One call."""
        ...

    async def create(
        self, metadata: VideoMetadata, *, marker: str, tag: str | None, size_bytes: int
    ) -> UploadHandle:
        """Create a video carrying ``marker`` and open its upload."""
        ...

    async def create_fetched(
        self, metadata: VideoMetadata, *, marker: str, tag: str | None, download_url: str
    ) -> str:
        """Create a video carrying ``marker`` whose file the platform fetches itself from
        ``download_url`` (server-side fetch); its key. Nothing is uploaded."""
        ...

    @property
    def sets_posters(self) -> bool:
        """True when :meth:`add_poster` can work (v2); False where the platform cannot
        set a poster from a URL (v1): the job then neither waits nor asks."""
        ...

    async def add_poster(self, video_key: str, image_url: str) -> str:
        """Ask the platform to fetch ``image_url`` as a poster for the video; the poster's
        id (PosterNotSet where the platform cannot)."""
        ...

    async def set_poster(self, video_key: str, poster_id: str) -> None:
        """Make ``poster_id`` the video's poster: StillProcessing while the platform is not
        ready with it, PosterNotSet when it could not use the image."""
        ...

    async def reopen(self, video_key: str, *, size_bytes: int) -> UploadHandle:
        """A new upload into an existing video. Raises VideoMissing when it is gone."""
        ...

    def transfer(self, handle: UploadHandle, size_bytes: int, acked: RangeSet | None) -> Transfer:
        """The sending state of ``handle``: ``acked`` None for an upload just opened,
        else what an earlier run recorded (then the platform is asked first)."""
        ...

    async def show(self, video_key: str) -> RemoteVideo:
        """What the platform holds for the video. Raises VideoMissing when it is gone."""
        ...

    async def update_metadata(self, video_key: str, metadata: VideoMetadata) -> None:
        """Replace the video's title, description, tags, dates and custom fields."""
        ...

    async def list_library(self, *, offset: int, limit: int) -> LibraryPage:
        """One page of the videos this platform object's library created (one call), to
        rebuild a lost journal without a call per job."""
        ...


@runtime_checkable
class BatchListing(Protocol):
    """A platform that can confirm many finished uploads with one listing call: it tags
    the videos it creates with a batch name and lists a batch at once (v1, v2)."""

    @property
    def verify_batch_size(self) -> int:
        """Videos per batch this object tags its creates with (0: none, a show each)."""
        ...

    def batch_of(self, video_key: str) -> VerifyBatch | None:
        """The batch ``video_key`` was created into by this object, if any."""
        ...

    async def list_batch(self, name: str) -> LibraryPage:
        """Every video of the batch ``name`` (one call)."""
        ...
