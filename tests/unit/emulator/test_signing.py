"""The emulator's own signature check: JW's published vector, the official client."""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st
from jwplatform.v1.client import Client

from vidlift.testing.emulator.signing import (
    NonceBook,
    percent_encode,
    signature_base,
    signature_for,
    signature_matches,
)

JW_PARAMS = [
    ("text", "démo"),
    ("api_format", "xml"),
    ("api_key", "XOqEAfxj"),
    ("api_nonce", "80684843"),
    ("api_timestamp", "1237387851"),
]
JW_SECRET = "uA96CFtJa138E2T5GhKfngml"


def test_jw_published_example() -> None:
    assert signature_base(JW_PARAMS) == (
        "api_format=xml&api_key=XOqEAfxj&api_nonce=80684843&api_timestamp=1237387851&text=d%C3%A9mo"
    )
    assert signature_for(JW_PARAMS, JW_SECRET) == "fbdee51a45980f9876834dc5ee1ec5e93f67cb89"
    signed = [*JW_PARAMS, ("api_signature", "FBDEE51A45980F9876834DC5EE1EC5E93F67CB89")]
    assert signature_matches(signed, JW_SECRET, "FBDEE51A45980F9876834DC5EE1EC5E93F67CB89")
    assert not signature_matches(
        JW_PARAMS, JW_SECRET + "x", "fbdee51a45980f9876834dc5ee1ec5e93f67cb89"
    )


def test_percent_encoding_leaves_only_unreserved_literal() -> None:
    assert percent_encode("a b+c/~_.-é") == "a%20b%2Bc%2F~_.-%C3%A9"


def test_repeated_parameters_contribute_one_pair_each_in_order() -> None:
    params = [("tag", "b"), ("api_key", "k"), ("tag", "a")]
    assert signature_base(params) == "api_key=k&tag=b&tag=a"


def _official_signature(params: dict[str, str]) -> tuple[dict[str, Any], str]:
    client = Client("thekey", "the-secret", scheme="http", host="127.0.0.1")
    with mock.patch("random.randint", return_value=12345):
        _url, signed = client._build_request("/videos/list", params)
    signature = signed.pop("api_signature")
    return signed, signature


names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)
values = st.text(max_size=20)


@given(st.dictionaries(names.filter(lambda n: not n.startswith("api_")), values, max_size=5))
def test_agrees_with_the_official_client(params: dict[str, str]) -> None:
    signed, signature = _official_signature(params)
    pairs = [(name, str(value)) for name, value in signed.items()]
    assert signature_matches(pairs, "the-secret", signature)


def test_nonce_book_refuses_replays_until_they_expire() -> None:
    book = NonceBook(window_s=300)
    assert book.use("k", "1", timestamp=1000, now=1000)
    assert not book.use("k", "1", timestamp=1000, now=1100)
    assert book.use("other", "1", timestamp=1000, now=1100)
    assert book.use("k", "1", timestamp=2000, now=2000)  # long after: forgotten, and the
    # timestamp check refuses the old request anyway
