"""The states of a job (journal layer).

::

    pending -> creating -> uploading -> verifying -> done
        \\          \\           \\            \\
         +----------+-----------+------------+--> failed   (requeue_failed: -> pending,
                                                             or -> creating if a create call
    pending -> skipped                                       may have reached the server)

``creating`` is written (durably) before the create call is sent, so a job found in it
after a crash may or may not have a video on the platform: it must be reconciled (looked
up) before it is created again.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE_STATES", "JobState"]


class JobState(StrEnum):
    """Where a job stands; stored as its text value."""

    PENDING = "pending"
    CREATING = "creating"
    UPLOADING = "uploading"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


ACTIVE_STATES = frozenset({JobState.CREATING, JobState.UPLOADING, JobState.VERIFYING})
"""States of a job that was started and not finished (the bytes acknowledged count)."""
