"""The states of a job, the events that change them, and the ONE table of legal moves
(journal layer; imports only ``vidlift.errors``).

::

    pending -> creating -> uploading -> verifying ---------------> done
        \\          \\           \\           |  \\                  ^
         \\          \\           \\          |   +-> processing ---+   (--wait-ready)
          \\          \\           \\         |          |
           +----------+-----------+--------+----------+--> failed   (requeue: -> pending;
                                                             -> creating if a create call
    pending -> skipped                                       may have reached the server;
                                                             -> uploading if it holds an
                                                             upload session)

``creating`` is written (durably) before the create call is sent, so a job found in it
after a crash may or may not have a video on the platform: it must be reconciled (looked
up) before it is created again. :data:`TRANSITIONS` lists, per event, every state it may
come from and the state it leads to; :func:`next_state` is the only place that reads it,
and raises :class:`~vidlift.errors.IllegalTransition` (a bug, not a job failure) for
any other pair. ``docs/ARCHITECTURE.md`` draws the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from vidlift.errors import IllegalTransition

__all__ = [
    "ACTIVE_STATES",
    "ADVISORY_EVENTS",
    "JobEvent",
    "JobState",
    "RUNNABLE_STATES",
    "SETTLED_STATES",
    "TRANSITIONS",
    "allowed_moves",
    "next_state",
]


class JobState(StrEnum):
    """Where a job stands; stored as its text value."""

    PENDING = "pending"
    CREATING = "creating"
    UPLOADING = "uploading"
    VERIFYING = "verifying"
    PROCESSING = "processing"  # verified; waiting for the platform to process it
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class JobEvent(StrEnum):
    """What happens to a job; each journal write is one event (value: the method)."""

    QUEUE = "add_entries"  # a manifest row refreshes a never-started job or a bad row
    REJECT_ROW = "add_problem"  # a bad manifest row replaces a never-started job
    CREATE = "mark_creating"
    CREATED = "record_created"
    PROGRESS = "record_progress"
    ATTEMPT = "bump_attempts"
    RESET_UPLOAD = "reset_upload"
    INSPECT = "record_source"  # the source's size and identity, when the job first reads it
    VERIFY = "mark_verifying"
    PROCESS = "mark_processing"  # verified; the platform is processing it (--wait-ready)
    FINISH = "mark_done"
    RETITLE = "record_metadata"  # the manifest's new metadata, applied on the platform
    FAIL = "mark_failed"
    SKIP = "mark_skipped"
    REQUEUE = "requeue_failed"  # failed -> pending
    REQUEUE_TO_RECONCILE = "requeue_failed (create sent)"  # failed -> creating
    REQUEUE_TO_RESUME = "requeue_failed (upload open)"  # failed -> uploading


ACTIVE_STATES = frozenset(
    {JobState.CREATING, JobState.UPLOADING, JobState.VERIFYING, JobState.PROCESSING}
)
"""States of a job that was started and not finished (the bytes acknowledged count)."""

SETTLED_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.SKIPPED})
"""States in which a job needs no worker (its lease ends); only done and skipped are final."""

RUNNABLE_STATES = (
    JobState.PENDING,
    JobState.CREATING,
    JobState.UPLOADING,
    JobState.VERIFYING,
    JobState.PROCESSING,
)
"""States a batch or a worker takes jobs in (not finished, not given up)."""

_P, _C, _U, _V = JobState.PENDING, JobState.CREATING, JobState.UPLOADING, JobState.VERIFYING
_R = JobState.PROCESSING
_D, _F, _S = JobState.DONE, JobState.FAILED, JobState.SKIPPED


def _same(*states: JobState) -> dict[JobState, JobState]:
    return {state: state for state in states}


# event -> {from state: to state}. Every pair not listed raises IllegalTransition.
TRANSITIONS: Mapping[JobEvent, Mapping[JobState, JobState]] = MappingProxyType(
    {
        event: MappingProxyType(moves)
        for event, moves in {
            # Manifest merges; they also need a never-started job or a bad row (a job
            # that does not qualify is kept as it is, without an error).
            JobEvent.QUEUE: {_P: _P, _F: _P},
            JobEvent.REJECT_ROW: {_P: _F, _F: _F},
            # creating -> creating: a crash in the create window, resumed (reconciled
            # first). uploading/verifying -> creating: the upload server forgot the
            # session (after reset_upload): a new one is asked for the same video.
            JobEvent.CREATE: {_P: _C, _C: _C, _U: _C, _V: _C},
            JobEvent.CREATED: {_C: _U},
            # Progress may arrive batched after the job moved on: outside these states
            # it is dropped (see ADVISORY_EVENTS), never an error.
            JobEvent.PROGRESS: _same(_U, _V),
            JobEvent.ATTEMPT: _same(_P, _C, _U, _V, _R),
            JobEvent.RESET_UPLOAD: _same(_U, _V),
            JobEvent.INSPECT: _same(_P, _C, _U, _V, _R),
            # verifying -> verifying: a run killed while verifying, resumed.
            JobEvent.VERIFY: {_U: _V, _V: _V},
            # processing -> processing: a run killed while waiting, resumed.
            # uploading -> processing: the platform fetches the file itself (--remote fetch).
            JobEvent.PROCESS: {_U: _R, _V: _R, _R: _R},
            JobEvent.FINISH: {_V: _D, _R: _D},
            JobEvent.RETITLE: {_D: _D},
            JobEvent.FAIL: {_P: _F, _C: _F, _U: _F, _V: _F, _R: _F},
            JobEvent.SKIP: {_P: _S, _C: _S, _U: _S, _V: _S, _R: _S, _F: _S},
            JobEvent.REQUEUE: {_F: _P},
            JobEvent.REQUEUE_TO_RECONCILE: {_F: _C},
            # A job that failed holding an upload session goes on from the platform's
            # ranges: it may find every byte there and verify at once.
            JobEvent.REQUEUE_TO_RESUME: {_F: _U},
        }.items()
    }
)

ADVISORY_EVENTS = frozenset({JobEvent.PROGRESS})
"""Events that are ignored, not refused, from a state the table does not list."""


def next_state(event: JobEvent, state: JobState, *, job_id: str) -> JobState:
    """The state ``event`` leads to from ``state``; raise IllegalTransition if none."""
    target = TRANSITIONS[event].get(state)
    if target is None:
        raise IllegalTransition(job_id, event.value, state.value)
    return target


def allowed_moves() -> dict[JobState, frozenset[JobState]]:
    """Every state and the states it may move to (the table folded by state)."""
    moves: dict[JobState, set[JobState]] = {state: set() for state in JobState}
    for table in TRANSITIONS.values():
        for source, target in table.items():
            moves[source].add(target)
    return {state: frozenset(targets) for state, targets in moves.items()}
