"""v1's ``upload_method=s3``: the whole file in one PUT to a signed link (platforms layer).

The seed recommends it over resumable uploads, but it is not resumable: a failed PUT sends
the whole file again (S3 overwrites the object, so a PUT whose answer was lost and is sent
again does no harm). Exactly once is the job loop's: the video's marker is looked up after
a lost create answer, as for any v1 upload. A link that expired or whose upload was
replaced is refused as a gone session (``SegmentRejected`` 410): the job loop then asks
videos/update for a new link on the same video (:class:`WholeFileTransfer`'s default).
"""

from __future__ import annotations

from vidlift.platforms.v1 import S3_UPLOAD_ID
from vidlift.platforms.v2.parts import WholeFileTransfer

__all__ = ["S3_UPLOAD_ID", "V1S3Transfer"]


class V1S3Transfer(WholeFileTransfer):
    """One s3 upload: nothing acknowledged, or the whole file."""

    LABEL = "video {key} s3 upload"
