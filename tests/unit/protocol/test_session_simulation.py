"""Property test: an UploadSession against a simulated nginx-like server that drops
requests and loses answers at random.

The simulated server keeps its own bitmap of received bytes and writes its answers as
wire text (201 ranges in either form, 200 XML), which the session reads through
``classify_segment_answer``. Whatever fails, the upload ends with the server holding every
byte; no segment but a 1-byte probe overlaps bytes the server acknowledged; and a lost
answer to the final segment never causes a second upload of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from hypothesis import given, settings
from hypothesis import strategies as st

from vidlift.errors import RangesShrank
from vidlift.protocol.ranges import ByteRange, RangeSet
from vidlift.protocol.segment import Complete, Partial, classify_segment_answer
from vidlift.protocol.session import Finish, SendSegment, UploadSession


class Fate(Enum):
    """What happens to one request."""

    OK = "ok"  # kept and answered
    DROP = "drop"  # the connection broke before the server kept anything
    LOST = "lost"  # kept, but the answer never arrived


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class SimServer:
    """nginx upload-module semantics (PROTOCOL.md): a completed session is forgotten and
    a new request under its id starts a new upload, unless ``remembers`` is set."""

    total: int
    remembers: bool
    nginx_form: bool
    held: bytearray = field(init=False)
    completed_copies: list[bytes] = field(default_factory=list)
    segment_bytes_after_completion: int = 0

    def __post_init__(self) -> None:
        self.held = bytearray(self.total)

    def _ranges_text(self) -> str:
        pairs: list[list[int]] = []
        for i, bit in enumerate(self.held):
            if bit and pairs and pairs[-1][1] == i - 1:
                pairs[-1][1] = i
            elif bit:
                pairs.append([i, i])
        if self.nginx_form:  # each range repeats the total
            return ",".join(f"{a}-{b}/{self.total}" for a, b in pairs)
        return ",".join(f"{a}-{b}" for a, b in pairs) + f"/{self.total}"

    def _final(self) -> Answer:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><response><status>ok</status>'
            f'<video key="tL17msiU"><size>{self.total}</size></video></response>'
        )
        return 200, {"content-type": "application/xml; charset=utf-8"}, body.encode()

    def handle(self, byte_range: ByteRange, *, probe: bool) -> Answer:
        """Keep the segment and answer."""
        if self.completed_copies:
            if not probe:
                self.segment_bytes_after_completion += byte_range.length
            if self.remembers:
                return self._final()
        self.held[byte_range.start : byte_range.end + 1] = b"\x01" * byte_range.length
        if all(self.held):
            self.completed_copies.append(bytes(self.held))
            self.held = bytearray(self.total)  # the session is forgotten
            return self._final()
        text = self._ranges_text()
        return 201, {"range": text, "content-length": str(len(text))}, text.encode()


@dataclass(frozen=True)
class Scenario:
    total: int
    segment: int
    fates: list[Fate]
    remembers: bool
    nginx_form: bool
    prefill: RangeSet
    resume: bool


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    total = draw(st.integers(1, 100))
    prefill = RangeSet.of(
        draw(
            st.lists(
                st.tuples(st.integers(0, total - 1), st.integers(0, 30)).map(
                    lambda p: (p[0], min(total - 1, p[0] + p[1]))
                ),
                max_size=3,
            )
        )
    )
    if prefill.is_complete(total):
        prefill = RangeSet()
    return Scenario(
        total=total,
        segment=draw(st.integers(1, total + 5)),
        fates=draw(st.lists(st.sampled_from(Fate), max_size=40)),
        remembers=draw(st.booleans()),
        nginx_form=draw(st.booleans()),
        prefill=prefill,
        # resume: an earlier run knew the prefilled ranges. Otherwise the server holds
        # them unknown to us only if this is a session obtained elsewhere.
        resume=draw(st.booleans()),
    )


def run(scenario: Scenario) -> tuple[SimServer, UploadSession, bool]:
    server = SimServer(scenario.total, scenario.remembers, scenario.nginx_form)
    for r in scenario.prefill:
        server.held[r.start : r.end + 1] = b"\x01" * r.length
    if scenario.resume:
        session = UploadSession.resume(scenario.total, scenario.segment, scenario.prefill)
    elif scenario.prefill:  # the server may hold anything: resume with nothing known
        session = UploadSession.resume(scenario.total, scenario.segment, RangeSet())
    else:
        session = UploadSession(scenario.total, scenario.segment)
    fates = iter(scenario.fates)
    restarts = 0
    for _ in range(4 * scenario.total + 4 * len(scenario.fates) + 40):
        action = session.next_action()
        if isinstance(action, Finish):
            return server, session, False
        assert isinstance(action, SendSegment)
        sent = action.byte_range
        if action.probe:
            assert sent == ByteRange(0, 0)
        else:
            # never overlaps acknowledged bytes; always the start of the first gap
            assert all(sent.end < r.start or r.end < sent.start for r in session.acked)
            gap = session.acked.first_gap(scenario.total)
            assert gap is not None
            assert sent.start == gap.start
            assert sent.end <= gap.end
            assert sent.length <= scenario.segment
        fate = next(fates, Fate.OK)
        if fate is Fate.DROP:
            session.interrupted()
            continue
        status, headers, body = server.handle(sent, probe=action.probe)
        if fate is Fate.LOST:
            session.interrupted()
            continue
        answer = classify_segment_answer(status, headers, body)
        assert isinstance(answer, Partial | Complete)
        try:
            session.receive(answer)
        except RangesShrank:
            # the caller asks the API whether the video is complete (PROTOCOL.md)
            if server.completed_copies:
                return server, session, True
            restarts += 1
            assert restarts <= len(scenario.fates) + 1
            session.restart_after_reset()
    raise AssertionError("the session did not terminate")


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_property_session_completes_whatever_fails(scenario: Scenario) -> None:
    server, session, via_api = run(scenario)
    assert server.completed_copies, "the server never had the whole file"
    assert server.completed_copies[0] == b"\x01" * scenario.total
    if _first_probe_completed_a_prefilled_file(scenario):
        return  # the one case accepted knowingly (issue 11, point 8): see below
    # after the file was complete, only 1-byte probes were sent: never a second upload
    assert server.segment_bytes_after_completion == 0
    if scenario.total > 1:
        assert len(server.completed_copies) == 1
    if not via_api:
        finish = session.next_action()
        assert isinstance(finish, Finish)
        assert finish.answer.final is not None
        assert finish.answer.final.size == scenario.total


def _first_probe_completed_a_prefilled_file(scenario: Scenario) -> bool:
    """A session obtained elsewhere whose server already held every byte but byte 0
    (never left so by vidlift, which always sends from the first gap), and whose first
    request, the probe, completed the file and lost its answer: a lost first probe adds
    no doubt of its own, so the file is sent again. Accepted for the sake of the common
    case (a lossy network failed a third of protocol-only uploads before)."""
    reached = [fate for fate in scenario.fates if fate is not Fate.DROP]  # dropped: never seen
    if scenario.total < 2 or scenario.resume or reached[:1] != [Fate.LOST]:
        return False
    return scenario.prefill == RangeSet.of([(1, scenario.total - 1)])


def test_simulation_finds_the_lost_final_answer_case() -> None:
    """A hand-picked scenario, so the property above is known to reach this branch."""
    scenario = Scenario(
        total=30,
        segment=10,
        fates=[Fate.OK, Fate.OK, Fate.LOST],
        remembers=False,
        nginx_form=True,
        prefill=RangeSet(),
        resume=False,
    )
    server, _, via_api = run(scenario)
    assert via_api
    assert len(server.completed_copies) == 1
    assert server.segment_bytes_after_completion == 0


def test_simulation_lost_first_probe_of_a_session_obtained_elsewhere_goes_on() -> None:
    """Issue 11, point 8: a lost FIRST probe adds no doubt, and the upload goes on in one
    run. The price, accepted knowingly: a server that already held every byte but byte 0
    (never left by vidlift, which always sends from the first gap) completes the file
    with that probe, and the lost answer makes vidlift send the file again."""
    scenario = Scenario(
        total=30,
        segment=10,
        fates=[Fate.LOST],
        remembers=False,
        nginx_form=False,
        prefill=RangeSet(),
        resume=True,  # obtained elsewhere: nothing known, the first request is a probe
    )
    server, session, via_api = run(scenario)
    assert not via_api
    assert session.acked == RangeSet.of([(0, 29)])
    assert server.segment_bytes_after_completion == 0
