"""What the journal is given to queue: :class:`JobSpec` (a job to do) and
:class:`JobProblem` (a row that cannot be done) (journal layer).

These are the journal's own value types, so that the journal does not depend on where
jobs come from: the jobs layer (:mod:`vidlift.jobs.ingest`) converts manifest rows into
them. Imports only ``vidlift.protocol`` (the video metadata).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from vidlift.protocol.metadata import VideoMetadata

__all__ = ["JobProblem", "JobSpec"]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job to queue: its source as it was seen, and the video's metadata.

    The source is ``path`` (absolute; ``size_bytes`` and ``mtime_ns`` come from the file
    when it was queued, to notice a file that changes later) or ``source_url`` (an
    ``http(s)://`` or ``s3://`` URL without its query string: what may be stored; size
    and mtime 0 until the job inspects it), exactly one. ``location`` says where the job came
    from (``file:line`` of a manifest). ``custom`` is read-only (excluded from the hash).
    """

    job_id: str
    path: Path | None
    size_bytes: int
    mtime_ns: int
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    date: datetime | None = None
    link: str = ""
    custom: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    location: str = ""
    source_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.custom, MappingProxyType):
            object.__setattr__(self, "custom", MappingProxyType(dict(self.custom)))
        if (self.path is None) == (self.source_url is None):
            raise ValueError(f"job {self.job_id}: give exactly one of path and source_url")

    @property
    def metadata(self) -> VideoMetadata:
        """What the video is created with (title, description, tags, date, link, custom)."""
        return VideoMetadata(
            self.title, self.description, self.tags, self.date, self.link, self.custom
        )

    @classmethod
    def of(
        cls,
        job_id: str,
        path: Path | None,
        size_bytes: int,
        mtime_ns: int,
        metadata: VideoMetadata,
        location: str,
        source_url: str | None = None,
    ) -> JobSpec:
        """A spec from metadata (the inverse of :attr:`metadata`)."""
        return cls(
            job_id=job_id,
            path=path,
            size_bytes=size_bytes,
            mtime_ns=mtime_ns,
            title=metadata.title,
            description=metadata.description,
            tags=metadata.tags,
            date=metadata.date,
            link=metadata.link,
            custom=metadata.custom,
            location=location,
            source_url=source_url,
        )


@dataclass(frozen=True, slots=True)
class JobProblem:
    """A job that cannot be queued (a bad manifest row): recorded as a failed job.

    ``location`` is where it came from (``file:line``); ``job_id`` the id it would have
    had; ``path`` the absolute source path when known; ``reason`` says what is wrong.
    """

    location: str
    job_id: str
    path: Path | None
    reason: str
