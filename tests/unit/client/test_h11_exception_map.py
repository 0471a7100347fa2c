"""The h11 transport's one table: socket, TLS and h11 exceptions to vidlift's."""

from __future__ import annotations

import ssl

import h11
import pytest

from vidlift.client.h11_transport import EXCEPTION_MAP, map_exception
from vidlift.errors import (
    ConnectionDropped,
    RemoteProtocolError,
    RequestTimeout,
    VidliftError,
)
from vidlift.jobs.policy import RetryPolicy, Verdict

CASES: list[tuple[BaseException, type[VidliftError], Verdict]] = [
    (h11.RemoteProtocolError("illegal status line"), RemoteProtocolError, Verdict.RETRY),
    (TimeoutError(), RequestTimeout, Verdict.RETRY),
    (ConnectionResetError(104, "reset by peer"), ConnectionDropped, Verdict.RETRY),
    (BrokenPipeError(32, "broken pipe"), ConnectionDropped, Verdict.RETRY),
    (ssl.SSLError(1, "bad record mac"), ConnectionDropped, Verdict.RETRY),
]


@pytest.mark.parametrize(("raised", "mapped", "verdict"), CASES, ids=lambda c: type(c).__name__)
def test_each_exception_maps_to_its_class_and_verdict(
    raised: BaseException, mapped: type[VidliftError], verdict: Verdict
) -> None:
    error = map_exception(raised)
    assert type(error) is mapped
    assert str(error)
    assert RetryPolicy().classify(error) is verdict


def test_our_own_mistakes_are_not_mapped() -> None:
    # h11.LocalProtocolError: vidlift broke HTTP itself, a bug that must show
    assert map_exception(h11.LocalProtocolError("too much data")) is None
    assert map_exception(ValueError("bug")) is None
    assert all(not issubclass(source, h11.LocalProtocolError) for source, _ in EXCEPTION_MAP)


def test_a_query_string_in_a_message_is_redacted() -> None:
    error = map_exception(OSError("failed for http://h/u?token=SECRET"))
    assert error is not None and "SECRET" not in str(error)
