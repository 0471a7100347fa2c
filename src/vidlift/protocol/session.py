"""The state of one upload session and its "what next" function (protocol layer: pure).

An :class:`UploadSession` knows the file size, the segment size, the ranges the server
acknowledged and the segment in flight. The caller asks :meth:`UploadSession.next_action`,
performs it, and feeds the outcome back (:meth:`receive` or :meth:`interrupted`). No I/O,
no clock: the retry policy and the network live elsewhere.

States (``UploadPhase``)::

    SENDING --segment/answer 201--> SENDING
       |  \\--failure--> PROBING --1-byte probe, 201--> SENDING
       |                    \\--ranges shrank--> error RangesShrank (ask the API)
       \\--2xx/3xx--> COMPLETE
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from vidlift.errors import LocalProtocolError, RangeHeaderError, RangesShrank, UploadError
from vidlift.protocol.ranges import ByteRange, RangeSet
from vidlift.protocol.segment import Complete, Partial

__all__ = [
    "Finish",
    "SendSegment",
    "UploadAction",
    "UploadPhase",
    "UploadSession",
]

# Rounds in a row in which a sent segment was answered 201 but not counted, before
# we conclude the server does not keep what we send.
MAX_STALLED_ROUNDS = 3
PROBE_RANGE = ByteRange(0, 0)  # PROTOCOL.md: "The smallest possible probe is one byte"


class UploadPhase(StrEnum):
    """Where an upload session stands."""

    SENDING = "sending"
    PROBING = "probing"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class SendSegment:
    """Send bytes ``byte_range`` of the file. ``probe`` marks a 1-byte state query."""

    byte_range: ByteRange
    probe: bool = False


@dataclass(frozen=True, slots=True)
class Finish:
    """The upload is complete; ``answer`` is the server's final answer."""

    answer: Complete


UploadAction = SendSegment | Finish


@dataclass(slots=True)
class UploadSession:
    """One file's upload: sizes, acknowledged ranges, the segment in flight."""

    total_bytes: int
    chunk_size_bytes: int
    acked: RangeSet = field(default_factory=RangeSet)
    phase: UploadPhase = UploadPhase.SENDING
    in_flight: SendSegment | None = None
    final: Complete | None = None
    stalled_rounds: int = 0
    final_in_doubt: bool = False
    # True once ``acked`` is known to be all the server holds: from the start for a
    # session just created (the server holds nothing), after the first 201 for one
    # resumed (the server may hold more than an earlier run recorded).
    server_state_known: bool = True

    def __post_init__(self) -> None:
        if self.total_bytes <= 0:
            raise LocalProtocolError("a resumable upload needs at least one byte")
        if self.chunk_size_bytes <= 0:
            raise LocalProtocolError("chunk_size_bytes (the segment size) must be positive")
        if self.acked and self.acked.ranges[-1].end >= self.total_bytes:
            raise LocalProtocolError(
                f"acknowledged ranges {self.acked} reach beyond the file's {self.total_bytes} bytes"
            )

    @classmethod
    def resume(cls, total_bytes: int, chunk_size_bytes: int, acked: RangeSet) -> UploadSession:
        """A session known from an earlier run, or obtained elsewhere (then with an empty
        ``acked``): the server may hold more than we know, so its truth is asked first,
        and until it answers, any failed request may have completed the file."""
        return cls(
            total_bytes,
            chunk_size_bytes,
            acked,
            phase=UploadPhase.PROBING,
            server_state_known=False,
        )

    @property
    def acked_bytes(self) -> int:
        """Bytes the server has acknowledged."""
        return self.acked.byte_count

    def next_action(self) -> UploadAction:
        """What to do now. Raises LocalProtocolError while a segment is in flight."""
        if self.in_flight is not None:
            raise LocalProtocolError("a segment is already in flight for this session")
        if self.final is not None:
            return Finish(self.final)
        if self.phase is UploadPhase.PROBING:
            return self._start(SendSegment(PROBE_RANGE, probe=True))
        gap = self.acked.first_gap(self.total_bytes)
        if gap is None:
            # Every byte acknowledged with 201, yet no final answer: ask once more.
            return self._start(SendSegment(PROBE_RANGE, probe=True))
        end = min(gap.start + self.chunk_size_bytes - 1, gap.end)
        return self._start(SendSegment(ByteRange(gap.start, end)))

    def _start(self, action: SendSegment) -> SendSegment:
        self.in_flight = action
        return action

    def receive(self, answer: Partial | Complete) -> None:
        """Feed the answer to the segment in flight.

        Raises RangesShrank when the server reports less than it acknowledged before,
        RangeHeaderError when its total is not the file's size, and UploadError when
        the server keeps answering 201 without counting what it was sent.
        """
        sent = self._take_in_flight()
        if isinstance(answer, Complete):
            self.final = answer
            self.phase = UploadPhase.COMPLETE
            self.acked = RangeSet((ByteRange(0, self.total_bytes - 1),))
            return
        received = answer.received
        if received.total != self.total_bytes:
            raise RangeHeaderError(
                f"server reports a total of {received.total} bytes, the file has {self.total_bytes}"
            )
        if self.final_in_doubt and received.ranges.byte_count <= 1:
            # PROTOCOL.md: a completed session is forgotten and a probe starts a new one;
            # with at most one byte reported we cannot tell that from a lost segment.
            raise RangesShrank(
                "the answer to the final segment was lost and the server no longer knows "
                "the session: it may be complete"
            )
        if not received.ranges.covers(self.acked):
            raise RangesShrank(
                f"server now reports {received.ranges or 'nothing'} after acknowledging "
                f"{self.acked}: the session was completed or reset"
            )
        if self.acked.is_complete(self.total_bytes) and sent.probe:
            raise UploadError("server reports every byte received but never sent a final answer")
        # Keep the server's truth before judging progress, so that the state a caller
        # persists after an UploadError is the latest the server reported.
        self.acked = received.ranges
        self.phase = UploadPhase.SENDING
        self.final_in_doubt = False
        self.server_state_known = True
        self._count_stall(sent, received.ranges)

    def _count_stall(self, sent: SendSegment, ranges: RangeSet) -> None:
        if sent.probe or ranges.covers(RangeSet((sent.byte_range,))):
            self.stalled_rounds = 0
            return
        self.stalled_rounds += 1
        if self.stalled_rounds >= MAX_STALLED_ROUNDS:
            raise UploadError(
                f"server answered 201 {MAX_STALLED_ROUNDS} times without keeping segment "
                f"{sent.byte_range}"
            )

    def interrupted(self) -> None:
        """The segment in flight failed (no answer, timeout, 5xx): probe before going on."""
        sent = self._take_in_flight()
        # Could that request have completed the file (and the server then forgotten the
        # session)? Yes if it filled the last gap we know of, or if the server may hold
        # bytes we do not know of (PROTOCOL.md, "After a session completes").
        completes = self.acked.union((sent.byte_range,)).is_complete(self.total_bytes)
        # A lost probe adds no doubt of its own: a probe answered 0-0 is already accepted
        # as a fresh session, and the 1 byte a lost probe may have written cannot have
        # completed anything we could not tell from that (issue 11, point 8).
        if completes or (not self.server_state_known and not sent.probe):
            self.final_in_doubt = True
        self.phase = UploadPhase.PROBING

    def restart_after_reset(self) -> None:
        """The platform confirmed the file is NOT complete after RangesShrank: the server
        lost the session's state, so every byte is sent again from a fresh probe."""
        self.acked = RangeSet()
        self.final_in_doubt = False
        self.server_state_known = True  # reset: nothing but our own probes is there
        self.stalled_rounds = 0
        self.in_flight = None
        self.phase = UploadPhase.PROBING

    def _take_in_flight(self) -> SendSegment:
        sent = self.in_flight
        if sent is None:
            raise LocalProtocolError("no segment in flight")
        self.in_flight = None
        return sent
