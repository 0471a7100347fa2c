"""``UploadState``: what a single upload needs to go on after a cancel or a crash (jobs layer).

``Client.upload(path, state=state)`` records its progress into ``state`` as it goes (it is
the upload's journal). When the upload is cancelled, ``state`` holds the video it created
and the bytes the platform acknowledged; passing the same state (or
``UploadState.from_json(state.to_json())`` in another process) to ``Client.upload``
again continues that upload: no second video, no byte sent twice.

The state holds the upload URL, which carries an upload token: keep it like a
credential. Its repr never shows it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from vidlift.errors import ConfigError
from vidlift.platforms.base import UploadHandle
from vidlift.protocol.ranges import RangeSet

__all__ = ["UploadState"]

_VERSION = 1


@dataclass(slots=True)
class UploadState:
    """A single upload's journal, kept by the caller."""

    job_id: str = ""
    source_identity: str = ""  # size and modification time of the file it belongs to
    video_key: str | None = None
    upload_id: str | None = None
    upload_secret: str | None = field(default=None, repr=False)
    acked: tuple[tuple[int, int], ...] = ()
    create_sent: bool = False

    @property
    def handle(self) -> UploadHandle | None:
        """The open upload, if any."""
        if self.video_key and self.upload_id and self.upload_secret:
            return UploadHandle(self.video_key, self.upload_id, self.upload_secret)
        return None

    @property
    def acked_ranges(self) -> RangeSet:
        """What the platform acknowledged of the open upload."""
        return RangeSet.of(self.acked)

    # -- the JobLog role ---------------------------------------------------------------

    async def mark_creating(self, job_id: str) -> None:
        """A create call is about to go out."""
        self.create_sent = True

    async def record_created(
        self, job_id: str, *, video_key: str, upload_url: str, session_id: str
    ) -> None:
        """An upload is open."""
        self.video_key, self.upload_id, self.upload_secret = video_key, session_id, upload_url
        self.acked = ()

    async def record_progress(self, job_id: str, acked_ranges: Sequence[tuple[int, int]]) -> None:
        """The platform acknowledged more."""
        self.acked = tuple((int(a), int(b)) for a, b in acked_ranges)

    async def mark_verifying(self, job_id: str) -> None:
        """Every byte is in."""

    async def mark_processing(self, job_id: str, *, md5: str | None) -> None:
        """Verified; the platform is processing the video (``wait_ready``)."""

    async def reset_upload(self, job_id: str) -> None:
        """The upload is gone; the video stays."""
        self.upload_id = self.upload_secret = None
        self.acked = ()

    # -- keeping it --------------------------------------------------------------------

    def to_json(self) -> str:
        """The state as one JSON document (holds the upload URL: keep it private)."""
        return json.dumps(
            {
                "vidlift_upload_state": _VERSION,
                "job_id": self.job_id,
                "source_identity": self.source_identity,
                "video_key": self.video_key,
                "upload_id": self.upload_id,
                "upload_secret": self.upload_secret,
                "acked": [list(pair) for pair in self.acked],
                "create_sent": self.create_sent,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> UploadState:
        """Read a state written by :meth:`to_json`. Raises ConfigError when it is not one."""
        try:
            doc = json.loads(text)
            if doc.get("vidlift_upload_state") != _VERSION:
                raise ValueError("not a vidlift upload state (version 1)")
            return cls(
                job_id=str(doc["job_id"]),
                source_identity=str(doc["source_identity"]),
                video_key=doc["video_key"],
                upload_id=doc["upload_id"],
                upload_secret=doc["upload_secret"],
                acked=tuple((int(a), int(b)) for a, b in doc["acked"]),
                create_sent=bool(doc["create_sent"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"cannot read the upload state: {exc}") from None
