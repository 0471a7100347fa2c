"""API v1 request signing: JW's published vector and the official client's algorithm."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidlift.errors import LocalProtocolError
from vidlift.protocol.signing import (
    ParamValue,
    percent_encode,
    sign_params,
    signature_base_string,
    signed_params,
)

jw_client = pytest.importorskip("jwplatform.v1.client")

SECRET = "uA96CFtJa138E2T5GhKfngml"
KEY = "XOqEAfxj"
PUBLISHED_PARAMS: dict[str, ParamValue] = {
    "text": "démo",
    "api_format": "xml",
    "api_key": KEY,
    "api_nonce": "80684843",
    "api_timestamp": "1237387851",
}
PUBLISHED_BASE = (
    "api_format=xml&api_key=XOqEAfxj&api_nonce=80684843&api_timestamp=1237387851&text=d%C3%A9mo"
)
PUBLISHED_SIGNATURE = "fbdee51a45980f9876834dc5ee1ec5e93f67cb89"


def test_published_vector_base_string() -> None:
    assert signature_base_string(PUBLISHED_PARAMS) == PUBLISHED_BASE


def test_published_vector_signature() -> None:
    assert sign_params(PUBLISHED_PARAMS, SECRET) == PUBLISHED_SIGNATURE
    # an api_signature already present is never part of what is signed
    with_old = {**PUBLISHED_PARAMS, "api_signature": "0" * 40}
    assert sign_params(with_old, SECRET) == PUBLISHED_SIGNATURE


def test_signature_is_sha1_of_base_plus_secret() -> None:
    expected = hashlib.sha1((PUBLISHED_BASE + SECRET).encode()).hexdigest()
    assert expected == PUBLISHED_SIGNATURE
    assert sign_params(PUBLISHED_PARAMS, "another secret") != PUBLISHED_SIGNATURE


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("démo", "d%C3%A9mo"),
        ("a b", "a%20b"),
        ("~", "~"),
        ("*", "%2A"),
        ("+", "%2B"),
        ("/", "%2F"),
        ("A-Z_a.z~09", "A-Z_a.z~09"),
        ("&=?#", "%26%3D%3F%23"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
        ("", ""),
    ],
)
def test_percent_encode_leaves_only_unreserved_literal(raw: str, encoded: str) -> None:
    assert percent_encode(raw) == encoded


def test_base_string_sorts_by_name_and_expands_lists_in_order() -> None:
    params: dict[str, ParamValue] = {"b": ["z", "a"], "a": "1", "c": 3}
    assert signature_base_string(params) == "a=1&b=z&b=a&c=3"
    assert signature_base_string({"tags": []}) == ""


def test_signed_params_adds_the_api_fields() -> None:
    signed = signed_params(
        {"title": "x"}, api_key=KEY, api_secret=SECRET, nonce=42, timestamp=1237387851
    )
    assert signed["api_nonce"] == "000000042"
    assert signed["api_timestamp"] == "1237387851"
    assert signed["api_key"] == KEY
    assert signed["api_format"] == "json"
    assert "api_kit" not in signed
    assert SECRET not in repr(signed)
    unsigned = {k: v for k, v in signed.items() if k != "api_signature"}
    assert signed["api_signature"] == sign_params(unsigned, SECRET)


@pytest.mark.parametrize(("nonce", "timestamp"), [(-1, 0), (1_000_000_000, 0), (0, -5)])
def test_signed_params_refuses_a_bad_nonce_or_timestamp(nonce: int, timestamp: int) -> None:
    with pytest.raises(LocalProtocolError):
        signed_params({}, api_key=KEY, api_secret=SECRET, nonce=nonce, timestamp=timestamp)


# --- the official client (jwplatform 2.2.2, v1) -------------------------------------


@pytest.fixture
def fixed_official(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    nonce, timestamp = 1234567, 1700000000
    monkeypatch.setattr(jw_client.random, "randint", lambda _a, _b: nonce)
    monkeypatch.setattr(jw_client.time, "time", lambda: timestamp + 0.75)
    yield nonce, timestamp


def official(params: Mapping[str, Any], *, key: str = KEY, secret: str = SECRET) -> dict[str, Any]:
    client = jw_client.Client(key, secret)
    url, signed = client._build_request("/videos/create", dict(params))
    assert url == "https://api.jwplatform.com/v1/videos/create"
    return dict(signed)


def ours(params: Mapping[str, ParamValue], nonce: int, timestamp: int) -> dict[str, ParamValue]:
    return signed_params(
        params,
        api_key=KEY,
        api_secret=SECRET,
        nonce=nonce,
        timestamp=timestamp,
        api_format="json",
        api_kit=f"py-{jw_client.__version__}",
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"title": "Holiday", "upload_method": "multipart"},
        {"title": "démo", "description": "a b ~ * + & = / ? é ü 日本"},
        {"tags": ["cats", "dogs & birds", "é"], "title": "lists"},
        {"custom.legacy_id": "1234", "custom.note": "x y", "search:custom.*": "q"},
        {"video_key": "tL17msiU", "resumable": "true"},
        {"empty": "", "zero": 0, "number": 17},
    ],
)
def test_same_signature_as_the_official_client(
    fixed_official: tuple[int, int], params: dict[str, Any]
) -> None:
    nonce, timestamp = fixed_official
    theirs = official(params)
    mine = ours(params, nonce, timestamp)
    assert theirs["api_nonce"] == mine["api_nonce"] == "001234567"
    assert str(theirs["api_timestamp"]) == mine["api_timestamp"]
    assert theirs["api_kit"] == mine["api_kit"]
    assert mine["api_signature"] == theirs["api_signature"]


def test_official_client_with_the_published_inputs_agrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its nonce is 9 digits and its format json, so compare the algorithm, not the call.
    monkeypatch.setattr(jw_client.random, "randint", lambda _a, _b: 80684843)
    monkeypatch.setattr(jw_client.time, "time", lambda: 1237387851.0)
    theirs = official({"text": "démo"}, secret=SECRET)
    mine = {k: v for k, v in theirs.items() if k != "api_signature"}
    assert sign_params(mine, SECRET) == theirs["api_signature"]


def _official_algorithm(params: Mapping[str, Any], secret: str) -> str:
    """jwplatform/v1/client.py's signing loop, verbatim in substance."""
    parts = []
    for key, value in sorted(params.items()):
        name = quote(str(key).encode("utf-8"), safe="~")
        for item in value if isinstance(value, list) else [value]:
            parts.append(f"{name}={quote(str(item).encode('utf-8'), safe='~')}")
    return hashlib.sha1(("&".join(parts) + secret).encode("utf-8")).hexdigest()


ascii_names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12
).filter(lambda n: n != "api_signature")
values = st.one_of(
    st.text(max_size=20),
    st.integers(0, 10**12),
    st.lists(st.text(max_size=8), max_size=4),
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(ascii_names, values, max_size=8), st.text(min_size=1, max_size=30))
def test_property_same_signature_as_the_official_algorithm(
    params: dict[str, ParamValue], secret: str
) -> None:
    assert sign_params(params, secret) == _official_algorithm(params, secret)


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        ascii_names.filter(lambda n: not n.startswith("api_")),
        st.one_of(st.text(max_size=20), st.lists(st.text(max_size=8), max_size=3)),
        max_size=6,
    ),
    st.integers(0, 999_999_999),
    st.integers(0, 2**31),
)
def test_property_same_signature_as_the_official_client(
    params: dict[str, Any], nonce: int, timestamp: int
) -> None:
    # monkeypatch is function-scoped; patch around each example instead
    with (
        mock.patch.object(jw_client.random, "randint", lambda _a, _b: nonce),
        mock.patch.object(jw_client.time, "time", lambda: float(timestamp)),
    ):
        theirs = official(params)
    assert ours(params, nonce, timestamp)["api_signature"] == theirs["api_signature"]
