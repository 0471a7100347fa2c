"""The one table that maps aiohttp's and the OS's exceptions to vidlift's (client layer)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from vidlift.client.transport import EXCEPTION_MAP, map_exception
from vidlift.errors import (
    ConfigError,
    ConnectError,
    ConnectionDropped,
    RemoteProtocolError,
    RequestTimeout,
    TransportError,
    VidliftError,
)
from vidlift.jobs.policy import RetryPolicy, Verdict

KEY = ConnectionKey("api.test", 443, True, True, None, None, None)


def connector_error() -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(KEY, OSError(111, "Connection refused"))


CASES: list[tuple[BaseException, type[VidliftError], Verdict]] = [
    (connector_error(), ConnectError, Verdict.RETRY),
    (aiohttp.ServerTimeoutError("read timeout"), RequestTimeout, Verdict.RETRY),
    (TimeoutError(), RequestTimeout, Verdict.RETRY),
    (aiohttp.ServerDisconnectedError(), ConnectionDropped, Verdict.RETRY),
    (aiohttp.ClientPayloadError("cut"), ConnectionDropped, Verdict.RETRY),
    (aiohttp.ClientOSError(104, "reset"), ConnectionDropped, Verdict.RETRY),
    (ConnectionResetError(104, "reset by peer"), ConnectionDropped, Verdict.RETRY),
    (BrokenPipeError(32, "broken pipe"), ConnectionDropped, Verdict.RETRY),
    (aiohttp.ClientError("other"), TransportError, Verdict.RETRY),
]


@pytest.mark.parametrize(("raised", "mapped", "verdict"), CASES, ids=lambda c: type(c).__name__)
def test_each_exception_maps_to_its_class_and_verdict(
    raised: BaseException, mapped: type[VidliftError], verdict: Verdict
) -> None:
    error = map_exception(raised)
    assert type(error) is mapped
    assert str(error)  # always something to show the user
    assert RetryPolicy().classify(error) is verdict


def test_an_untrusted_certificate_is_a_settings_error_that_stops_the_batch() -> None:
    cert_error: Any = aiohttp.ClientConnectorCertificateError(KEY, ValueError("self-signed"))
    error = map_exception(cert_error)
    assert isinstance(error, ConfigError)
    assert "api.test:443" in str(error) and "--insecure" in str(error)
    assert RetryPolicy().classify(error) is Verdict.STOP_BATCH


def test_a_response_error_is_a_peer_protocol_error() -> None:
    url = URL("http://api.test/v1/videos/show")
    info = aiohttp.RequestInfo(url, "GET", CIMultiDictProxy(CIMultiDict()), url)
    error = map_exception(aiohttp.ClientResponseError(info, (), status=400, message="bad"))
    assert isinstance(error, RemoteProtocolError)


def test_what_is_not_ours_is_not_mapped() -> None:
    assert map_exception(ValueError("a bug")) is None
    assert map_exception(KeyboardInterrupt()) is None


def test_subclasses_come_before_their_bases() -> None:
    for i, (earlier, _) in enumerate(EXCEPTION_MAP):
        for later, _ in EXCEPTION_MAP[i + 1 :]:
            assert not issubclass(later, earlier), (later, earlier)
