"""The upload session's "what next" function, scenario by scenario."""

from __future__ import annotations

import pytest

from vidlift.errors import LocalProtocolError, RangeHeaderError, RangesShrank, UploadError
from vidlift.protocol.models import FinalAnswer
from vidlift.protocol.ranges import ByteRange, RangeSet, ReceivedRanges, parse_received_ranges
from vidlift.protocol.segment import Complete, Partial
from vidlift.protocol.session import (
    MAX_STALLED_ROUNDS,
    Finish,
    SendSegment,
    UploadPhase,
    UploadSession,
)

DONE = Complete(200, FinalAnswer(status="ok", video_key="tL17msiU", size=40))


def partial(text: str) -> Partial:
    return Partial(parse_received_ranges(text))


def phase(session: UploadSession) -> UploadPhase:
    return session.phase  # a call, so that mypy does not narrow the attribute


def send(session: UploadSession) -> ByteRange:
    """The next action, which must be a normal (non-probe) segment."""
    action = session.next_action()
    assert isinstance(action, SendSegment)
    assert not action.probe
    return action.byte_range


def probe(session: UploadSession) -> None:
    action = session.next_action()
    assert action == SendSegment(ByteRange(0, 0), probe=True)


def test_fresh_session_sends_segments_in_order() -> None:
    session = UploadSession(25, 10)
    assert phase(session) is UploadPhase.SENDING
    assert send(session) == ByteRange(0, 9)
    session.receive(partial("0-9/25"))
    assert send(session) == ByteRange(10, 19)
    session.receive(partial("0-19/25"))
    assert session.acked_bytes == 20
    assert send(session) == ByteRange(20, 24)
    session.receive(DONE)
    assert phase(session) is UploadPhase.COMPLETE
    assert session.next_action() == Finish(DONE)
    assert session.next_action() == Finish(DONE)  # asking again is harmless


def test_gap_answer_sends_only_the_gap_and_the_tail() -> None:
    session = UploadSession(40, 10)
    sent = [send(session)]
    session.receive(partial("0-9/40,20-29/40"))
    sent.append(send(session))
    session.receive(partial("0-29/40"))
    sent.append(send(session))
    session.receive(DONE)
    assert sent == [ByteRange(0, 9), ByteRange(10, 19), ByteRange(30, 39)]
    assert isinstance(session.next_action(), Finish)


def test_gap_answer_with_large_segments_does_not_cross_acked_bytes() -> None:
    session = UploadSession(40, 100)
    assert send(session) == ByteRange(0, 39)
    session.receive(partial("0-9,20-29/40"))  # the server kept only part of it
    assert send(session) == ByteRange(10, 19)
    session.receive(partial("0-29/40"))
    assert send(session) == ByteRange(30, 39)


def test_resume_probes_first_then_continues_from_the_first_gap() -> None:
    session = UploadSession.resume(40, 10, RangeSet.of([(0, 9)]))
    assert phase(session) is UploadPhase.PROBING
    probe(session)
    session.receive(partial("0-19/40"))  # the server holds more than we knew
    assert phase(session) is UploadPhase.SENDING
    assert send(session) == ByteRange(20, 29)


def test_resume_can_finish_with_the_probe() -> None:
    session = UploadSession.resume(40, 10, RangeSet.of([(1, 39)]))
    probe(session)
    session.receive(DONE)
    assert session.next_action() == Finish(DONE)


def test_fresh_session_first_segment_interrupted_is_not_in_doubt() -> None:
    session = UploadSession(40, 10)  # just created: the server holds nothing
    assert send(session) == ByteRange(0, 9)
    session.interrupted()
    assert not session.final_in_doubt
    probe(session)
    session.receive(partial("0-0/40"))
    assert send(session) == ByteRange(1, 10)


def test_resumed_session_lost_first_probe_adds_no_doubt() -> None:
    # Issue 11, point 8: a session obtained elsewhere whose FIRST probe is lost. A probe
    # answered 0-0 is accepted as a fresh session anyway, so the lost probe adds no doubt:
    # the next probe's 0-0 continues the upload (it used to stop with "may be complete",
    # failing a third of protocol-only uploads on a lossy network).
    session = UploadSession.resume(40, 10, RangeSet())
    assert not session.server_state_known
    probe(session)
    session.interrupted()
    assert not session.final_in_doubt
    probe(session)
    session.receive(partial("0-0/40"))
    assert send(session) == ByteRange(1, 10)


def test_resumed_session_lost_segment_before_any_answer_is_in_doubt() -> None:
    # A lost SEGMENT (not a probe) before the server's state is known may have completed
    # a file whose other bytes the server held: then a 1-byte answer is ambiguous.
    session = UploadSession.resume(40, 10, RangeSet())
    session.phase = UploadPhase.SENDING  # as if told to send without probing first
    send(session)
    session.interrupted()
    assert session.final_in_doubt
    probe(session)
    with pytest.raises(RangesShrank, match="may be complete"):
        session.receive(partial("0-0/40"))


def test_resumed_session_knows_the_server_after_its_first_answer() -> None:
    session = UploadSession.resume(40, 10, RangeSet())
    probe(session)
    session.receive(partial("0-0,10-19/40"))
    assert session.server_state_known
    assert send(session) == ByteRange(1, 9)
    session.interrupted()
    assert not session.final_in_doubt
    probe(session)
    session.receive(partial("0-0/40,10-19/40"))
    assert send(session) == ByteRange(1, 9)


def test_interrupted_segment_is_followed_by_a_probe() -> None:
    session = UploadSession(40, 10)
    send(session)
    session.receive(partial("0-9/40"))
    assert send(session) == ByteRange(10, 19)
    session.interrupted()
    assert phase(session) is UploadPhase.PROBING
    assert not session.final_in_doubt
    probe(session)
    session.interrupted()  # the probe fails too: probe again
    probe(session)
    session.receive(partial("0-9/40"))
    assert send(session) == ByteRange(10, 19)


def test_shrinking_ranges_raise() -> None:
    session = UploadSession(40, 10)
    send(session)
    session.receive(partial("0-19/40"))
    send(session)
    session.interrupted()
    probe(session)
    with pytest.raises(RangesShrank, match="completed or reset"):
        session.receive(partial("0-9/40"))
    assert session.acked == RangeSet.of([(0, 19)])  # our knowledge is not overwritten


def test_ranges_with_a_hole_where_we_had_bytes_raise() -> None:
    session = UploadSession(40, 10)
    send(session)
    session.receive(partial("0-19/40"))
    send(session)
    with pytest.raises(RangesShrank):
        session.receive(partial("0-9/40,15-29/40"))


def test_lost_final_answer_then_a_fresh_session_is_ambiguous() -> None:
    session = UploadSession(30, 10)
    send(session)
    session.receive(partial("0-9/30"))
    send(session)
    session.receive(partial("0-19/30"))
    assert send(session) == ByteRange(20, 29)
    session.interrupted()  # the answer to the final segment was lost
    assert session.final_in_doubt
    probe(session)
    with pytest.raises(RangesShrank, match="may be complete"):
        session.receive(partial("0-0/30"))  # the server forgot: the probe started anew


def test_lost_answer_of_a_single_segment_upload_is_ambiguous() -> None:
    session = UploadSession(30, 100)
    assert send(session) == ByteRange(0, 29)
    session.interrupted()
    assert session.final_in_doubt
    probe(session)
    with pytest.raises(RangesShrank, match="may be complete"):
        session.receive(partial("0-0/30"))


def test_lost_final_answer_then_the_probe_gets_the_final_answer() -> None:
    session = UploadSession(30, 10)
    send(session)
    session.receive(partial("0-19/30"))
    send(session)
    session.interrupted()
    probe(session)
    session.receive(DONE)  # a server that remembers the completed session
    assert session.next_action() == Finish(DONE)
    assert phase(session) is UploadPhase.COMPLETE


def test_lost_final_segment_that_never_arrived_continues() -> None:
    session = UploadSession(30, 10)
    send(session)
    session.receive(partial("0-19/30"))
    send(session)
    session.interrupted()
    assert session.final_in_doubt
    probe(session)
    session.receive(partial("0-19/30"))  # the server still has the session
    assert not session.final_in_doubt
    assert send(session) == ByteRange(20, 29)


def test_wrong_total_raises() -> None:
    session = UploadSession(40, 10)
    send(session)
    with pytest.raises(RangeHeaderError, match="total of 41"):
        session.receive(partial("0-9/41"))
    assert session.in_flight is None
    assert session.acked == RangeSet()


def test_stalled_rounds_raise_upload_error() -> None:
    session = UploadSession(40, 10)
    send(session)
    session.receive(partial("0-9/40"))
    for round_ in range(1, MAX_STALLED_ROUNDS + 1):
        assert send(session) == ByteRange(10, 19)
        if round_ < MAX_STALLED_ROUNDS:
            session.receive(partial("0-9/40"))  # 201, but segment 10-19 not kept
            assert session.stalled_rounds == round_
        else:
            with pytest.raises(UploadError, match="without keeping segment 10-19"):
                session.receive(partial("0-9/40"))


def test_a_kept_segment_resets_the_stall_count() -> None:
    session = UploadSession(40, 10)
    send(session)
    session.receive(partial("0-9/40"))
    for _ in range(MAX_STALLED_ROUNDS - 1):
        send(session)
        session.receive(partial("0-9/40"))
    send(session)
    session.receive(partial("0-19/40"))
    assert session.stalled_rounds == 0
    for _ in range(MAX_STALLED_ROUNDS - 1):
        send(session)
        session.receive(partial("0-19/40"))
    assert session.stalled_rounds == MAX_STALLED_ROUNDS - 1


def test_stall_error_keeps_the_latest_ranges() -> None:
    session = UploadSession(40, 10)
    session.acked = RangeSet.of([(0, 9)])
    session.stalled_rounds = MAX_STALLED_ROUNDS - 1
    assert send(session) == ByteRange(10, 19)
    with pytest.raises(UploadError):
        session.receive(partial("0-9/40,30-39/40"))  # more, but not what was sent
    assert session.acked == RangeSet.of([(0, 9), (30, 39)])


def test_every_byte_acked_without_final_answer_probes_then_fails() -> None:
    session = UploadSession(20, 10)
    send(session)
    session.receive(partial("0-9/20"))
    send(session)
    session.receive(partial("0-19/20"))  # 201 although complete
    probe(session)
    with pytest.raises(UploadError, match="never sent a final answer"):
        session.receive(partial("0-19/20"))


def test_restart_after_reset() -> None:
    session = UploadSession(30, 10)
    send(session)
    session.receive(partial("0-19/30"))
    send(session)
    session.interrupted()
    probe(session)
    with pytest.raises(RangesShrank):
        session.receive(partial("0-0/30"))
    session.stalled_rounds = 2
    session.restart_after_reset()  # the API says the video is NOT complete
    assert session.acked == RangeSet()
    assert session.stalled_rounds == 0
    assert not session.final_in_doubt
    assert phase(session) is UploadPhase.PROBING
    probe(session)
    session.receive(partial("0-0/30"))  # now the fresh state is accepted
    assert send(session) == ByteRange(1, 10)


def test_restart_after_reset_drops_a_segment_in_flight() -> None:
    session = UploadSession(30, 10)
    send(session)
    session.restart_after_reset()
    assert session.in_flight is None
    probe(session)


def test_next_action_while_in_flight_is_a_local_error() -> None:
    session = UploadSession(30, 10)
    send(session)
    with pytest.raises(LocalProtocolError, match="in flight"):
        session.next_action()


def test_answers_without_a_segment_in_flight_are_local_errors() -> None:
    session = UploadSession(30, 10)
    with pytest.raises(LocalProtocolError, match="no segment in flight"):
        session.receive(partial("0-9/30"))
    with pytest.raises(LocalProtocolError, match="no segment in flight"):
        session.interrupted()
    send(session)
    session.receive(DONE)
    with pytest.raises(LocalProtocolError):
        session.interrupted()


@pytest.mark.parametrize(
    ("total", "segment", "acked"),
    [(0, 10, ()), (-1, 10, ()), (10, 0, ()), (10, -5, ()), (10, 5, ((0, 10),))],
)
def test_bad_session_parameters_are_refused(
    total: int, segment: int, acked: tuple[tuple[int, int], ...]
) -> None:
    with pytest.raises(LocalProtocolError):
        UploadSession(total, segment, RangeSet.of(acked))


def test_one_byte_file() -> None:
    session = UploadSession(1, 8 * 2**20)
    assert send(session) == ByteRange(0, 0)
    session.interrupted()
    assert session.final_in_doubt
    probe(session)
    session.receive(DONE)
    assert isinstance(session.next_action(), Finish)


def test_beyond_4_gib() -> None:
    total, segment = 5 * 2**30, 8 * 2**20
    session = UploadSession(total, segment)
    assert send(session) == ByteRange(0, segment - 1)
    held = total - segment - 3
    session.receive(Partial(ReceivedRanges(RangeSet.of([(0, held - 1)]), total)))
    assert send(session) == ByteRange(held, held + segment - 1)
    session.receive(Partial(ReceivedRanges(RangeSet.of([(0, held + segment - 1)]), total)))
    assert send(session) == ByteRange(held + segment, total - 1)
    assert session.acked_bytes == held + segment
