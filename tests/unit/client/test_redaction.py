"""No signed URL (key, nonce, signature) or upload token survives into an error message."""

from __future__ import annotations

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from vidlift.client.transport import map_exception, redact_urls

SIGNED = (
    "http://127.0.0.1:8080/v1/videos/create?api_key=KEY123&api_nonce=NONCE456"
    "&api_signature=SIG789&api_timestamp=1"
)
SECRETS = ("KEY123", "NONCE456", "SIG789", "api_signature")


def test_redact_urls_drops_every_query_string() -> None:
    text = f"cannot reach {SIGNED}, nor 'https://up.example/u?token=TOK' again"
    redacted = redact_urls(text)
    for secret in (*SECRETS, "TOK"):
        assert secret not in redacted
    assert "http://127.0.0.1:8080/v1/videos/create?…" in redacted
    assert redact_urls("no url here: 3 < 4") == "no url here: 3 < 4"


def test_an_invalid_url_error_names_no_secret() -> None:
    # aiohttp puts the whole URL in the message (an endpoint without a scheme did this)
    mapped = map_exception(aiohttp.InvalidURL(SIGNED.removeprefix("http://")))
    assert mapped is not None
    for secret in SECRETS:
        assert secret not in str(mapped)


def test_a_response_error_names_no_secret() -> None:
    headers = CIMultiDictProxy(CIMultiDict[str]())
    info = aiohttp.RequestInfo(URL(SIGNED), "GET", headers, URL(SIGNED))
    exc = aiohttp.ClientResponseError(info, (), status=400, message="Expected HTTP/")
    assert "SIG789" in str(exc)  # aiohttp's own message carries the signed URL
    mapped = map_exception(exc)
    assert mapped is not None and "Expected HTTP/" in str(mapped)
    for secret in SECRETS:
        assert secret not in str(mapped)
