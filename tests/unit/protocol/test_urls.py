"""Upload URL construction, byte for byte as the seed shows it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import ValidationError

from vidlift.errors import LocalProtocolError
from vidlift.protocol.models import LinkBlock
from vidlift.protocol.urls import API_FORMATS, Redirect, build_upload_url

SEED_LINK: dict[str, Any] = {
    "protocol": "http",
    "address": "upload.jwplatform.com",
    "path": "/v1/videos/upload/resumable",
    "query": {"key": "vtQmcboj"},
}


def link(**changes: Any) -> LinkBlock:
    return LinkBlock.model_validate({**SEED_LINK, **changes})


def test_seed_example_without_redirect() -> None:
    assert build_upload_url(link(), api_format="xml") == (
        "http://upload.jwplatform.com/v1/videos/upload/resumable?api_format=xml&key=vtQmcboj"
    )


def test_seed_example_with_redirect() -> None:
    redirect = Redirect(
        "http://example.com/path",
        {"parameter1": "value1", "parameter2": "value2"},
        key_in_path=True,
    )
    assert build_upload_url(link(), api_format="xml", redirect=redirect) == (
        "http://upload.jwplatform.com/v1/videos/upload/resumable"
        "?api_format=xml"
        "&key=vtQmcboj"
        "&redirect_address=http://example.com/path"
        "&redirect_query.parameter1=value1"
        "&redirect_query.parameter2=value2"
        "&key_in_path=True"
    )


def test_key_in_path_false_and_absent() -> None:
    no = build_upload_url(link(), api_format="json", redirect=Redirect("http://e.com/p", {}, False))
    assert no.endswith("&redirect_address=http://e.com/p&key_in_path=False")
    absent = build_upload_url(link(), api_format="json", redirect=Redirect("http://e.com/p"))
    assert absent.endswith("&redirect_address=http://e.com/p")
    assert "key_in_path" not in absent


def test_values_are_percent_encoded() -> None:
    redirect = Redirect(
        "http://example.com/a b?x=1&y=2",
        {"q&x": "a=b&c d", "name": "démo/ü", "plus": "1+1"},
    )
    url = build_upload_url(link(query={"key": "k&y=z"}), api_format="json", redirect=redirect)
    query = urlsplit(url).query
    assert "key=k%26y%3Dz" in query
    assert "redirect_address=http://example.com/a%20b%3Fx%3D1%26y%3D2" in query
    assert "redirect_query.q%26x=a%3Db%26c%20d" in query
    assert "redirect_query.name=d%C3%A9mo/%C3%BC" in query
    assert "redirect_query.plus=1%2B1" in query
    assert " " not in url and "é" not in url
    # and a standard parser reads back exactly what went in
    assert parse_qsl(query) == [
        ("api_format", "json"),
        ("key", "k&y=z"),
        ("redirect_address", "http://example.com/a b?x=1&y=2"),
        ("redirect_query.q&x", "a=b&c d"),
        ("redirect_query.name", "démo/ü"),
        ("redirect_query.plus", "1+1"),
    ]


def test_extra_link_query_parameters_are_kept_in_order() -> None:
    url = build_upload_url(
        link(query={"key": "vtQmcboj", "token": "abc def", "expires": 1700000000}),
        api_format="xml",
    )
    assert url == (
        "http://upload.jwplatform.com/v1/videos/upload/resumable"
        "?api_format=xml&key=vtQmcboj&token=abc%20def&expires=1700000000"
    )


def test_link_query_cannot_duplicate_the_api_format() -> None:
    url = build_upload_url(link(query={"key": "k", "api_format": "py"}), api_format="json")
    assert parse_qsl(urlsplit(url).query) == [("api_format", "json"), ("key", "k")]


@pytest.mark.parametrize("api_format", API_FORMATS)
def test_every_api_format_is_accepted(api_format: str) -> None:
    assert f"?api_format={api_format}&" in build_upload_url(link(), api_format=api_format)


@pytest.mark.parametrize("api_format", ["", "XML", "yaml", "json&x=1"])
def test_bad_api_format_is_refused(api_format: str) -> None:
    with pytest.raises(LocalProtocolError, match="api_format"):
        build_upload_url(link(), api_format=api_format)


def test_path_without_slash_port_and_https() -> None:
    url = build_upload_url(
        link(protocol="https", address="127.0.0.1:8080", path="upload"), api_format="json"
    )
    assert url == "https://127.0.0.1:8080/upload?api_format=json&key=vtQmcboj"


def test_path_is_encoded_once() -> None:
    assert build_upload_url(link(path="/a b/é"), api_format="json").startswith(
        "http://upload.jwplatform.com/a%20b/%C3%A9?"
    )
    # already-encoded paths are not encoded twice, a bare % is
    assert "/a%20b/100%25?" in build_upload_url(link(path="/a%20b/100%"), api_format="json")
    assert "/v1;x=1/@:+?" in build_upload_url(link(path="/v1;x=1/@:+"), api_format="json")


def test_ipv6_address() -> None:
    url = build_upload_url(link(address="[::1]:8080"), api_format="json")
    assert url.startswith("http://[::1]:8080/v1/")


@pytest.mark.parametrize(
    "address",
    ["", "evil.com/path?", "user@host", "host name", "host\r\nX: y", "a#b", "host:port"],
)
def test_link_address_must_be_a_host(address: str) -> None:
    with pytest.raises(ValidationError):
        link(address=address)


def test_link_protocol_must_be_http_or_https() -> None:
    assert link(protocol="HTTPS").protocol == "https"
    with pytest.raises(ValidationError):
        link(protocol="ftp")
