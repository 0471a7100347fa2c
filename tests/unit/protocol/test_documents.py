"""Decoding answer bodies: JSON, XML (defused), PHP; pickle and HTML refused."""

from __future__ import annotations

import json
import pickle
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidlift.errors import AnswerParseError
from vidlift.protocol.documents import decode_document, element_to_value
from vidlift.protocol.phpserial import loads_php

from .samples import BILLION_LAUGHS_XML, SEED_CREATE_XML, XXE_XML, php

# --- XML ---------------------------------------------------------------------------------


def test_seed_create_answer_xml() -> None:
    assert decode_document(SEED_CREATE_XML) == {
        "status": "ok",
        "video": {
            "key": "tL17msiU",
            "link": {
                "protocol": "http",
                "address": "upload.jwplatform.com",
                "path": "/v1/videos/upload/resumable",
                "query": {"key": "vtQmcboj"},
            },
            "session_id": "kwJei9j2vtQmcbojrlGJY3mbJFMHfzZwPXBwoSQr",
        },
    }


def test_xml_repeated_children_become_a_list_and_empty_elements_text() -> None:
    doc = decode_document(
        b"<response><videos><video key='a'/><video key='b'/><video key='c'/></videos>"
        b"<empty/><size unit='b'>12</size></response>"
    )
    assert doc["videos"] == {"video": [{"key": "a"}, {"key": "b"}, {"key": "c"}]}
    assert doc["empty"] == ""
    assert doc["size"] == {"unit": "b", "text": "12"}


def test_xml_with_bom_and_leading_whitespace() -> None:
    assert decode_document(b"\xef\xbb\xbf \n<r><status>ok</status></r>") == {"status": "ok"}


def test_xml_in_another_declared_encoding() -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><r><t>démo</t></r>'.encode("latin-1")
    assert decode_document(body) == {"t": "démo"}


EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "http://evil.example/r.dtd"><r><status>ok</status></r>"""


@pytest.mark.parametrize(
    "body", [XXE_XML, BILLION_LAUGHS_XML, EXTERNAL_DTD], ids=["xxe", "laughs", "dtd"]
)
def test_dtd_and_entities_are_refused_never_expanded(body: bytes) -> None:
    with pytest.raises(AnswerParseError, match="DTD or entities") as info:
        decode_document(body)
    assert "lol" * 10 not in str(info.value)
    assert "root:" not in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b"<response><status>ok</status>",  # unclosed
        b"<response><a></b></response>",
        b"<r>\xff</r>",  # not UTF-8
        b'<?xml version="1.0" encoding="x-no-such-encoding"?><r/>',
        b"<response>ok</response>",  # no structure at all
        b"<" + b"<a>" * 3,
        b"<a>" * 5000 + b"</a>" * 5000,  # deeper than any answer
    ],
    ids=["unclosed", "mismatched", "bad-utf8", "bad-encoding", "text-only", "lt", "deep"],
)
def test_malformed_xml_is_refused(body: bytes) -> None:
    with pytest.raises(AnswerParseError):
        decode_document(body)


def test_element_to_value_depth_limit_is_generous_enough() -> None:
    body = b"<r>" + b"<a>" * 30 + b"x" + b"</a>" * 30 + b"</r>"
    doc = decode_document(body)
    for _ in range(29):
        doc = doc["a"]
    assert doc == {"a": "x"}


def test_element_to_value_on_a_tree_built_elsewhere() -> None:
    root = ElementTree.fromstring("<r a='1'><b>x</b><b>y</b><c> t </c></r>")
    assert element_to_value(root) == {"a": "1", "b": ["x", "y"], "c": "t"}
    with pytest.raises(AnswerParseError, match="nested deeper"):
        element_to_value(root, depth=1000)


# --- JSON --------------------------------------------------------------------------------


def test_json_object() -> None:
    body = json.dumps({"status": "ok", "media": {"key": "tL17msiU"}, "n": 5}).encode()
    assert decode_document(body, content_type="application/json") == {
        "status": "ok",
        "media": {"key": "tL17msiU"},
        "n": 5,
    }
    assert decode_document(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"a": }',
        b'{"a": "\xff"}',
        b"[1, 2, 3]",  # not an object
        b"[" * 100_000,  # nested beyond recursion
        b'{"a": 1' + b"0" * 5000 + b"}",  # an int beyond Python's digit limit
    ],
    ids=["open", "syntax", "bad-utf8", "list", "deep", "huge-int"],
)
def test_malformed_json_is_refused(body: bytes) -> None:
    with pytest.raises(AnswerParseError):
        decode_document(body)


# --- refused formats ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
def test_pickle_is_refused_whatever_its_protocol(protocol: int) -> None:
    body = pickle.dumps({"status": "ok", "video": {"key": "x"}}, protocol=protocol)
    with pytest.raises(AnswerParseError, match="pickle"):
        decode_document(body)


def test_pickle_is_refused_by_content_type_and_by_first_byte() -> None:
    with pytest.raises(AnswerParseError, match="pickle"):
        decode_document(b"\x80\x04K\x01.")
    with pytest.raises(AnswerParseError, match="pickle"):
        decode_document(b'{"a": 1}', content_type="application/python-pickle")


def test_a_malicious_pickle_is_never_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: calls.append(a))
    evil = pickle.dumps(_RunsCode())  # unpickling it would call os.system("true")
    assert b"system" in evil
    with pytest.raises(AnswerParseError):
        decode_document(evil)
    assert calls == []


class _RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("true",)


HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@pytest.mark.parametrize(
    "body", [HTML_502, b"  <!DOCTYPE html><html><body>x</body></html>", b"<HTML><BODY/></HTML>"]
)
def test_html_page_is_refused_with_a_clear_message(body: bytes) -> None:
    with pytest.raises(AnswerParseError, match="HTML page, not an API answer") as info:
        decode_document(body, content_type="text/html")
    if body is HTML_502:
        assert "502 Bad Gateway" in str(info.value)


@pytest.mark.parametrize("body", [b"", b"   \r\n", b"\xef\xbb\xbf"])
def test_empty_body_is_refused(body: bytes) -> None:
    with pytest.raises(AnswerParseError, match="empty"):
        decode_document(body)


@pytest.mark.parametrize("body", [b"OK", b"0-9/40", b"\x00\x01", b"status=ok"])
def test_unknown_format_is_refused(body: bytes) -> None:
    with pytest.raises(AnswerParseError, match="neither JSON, XML nor PHP"):
        decode_document(body)


def test_too_large_body_is_refused() -> None:
    with pytest.raises(AnswerParseError, match="too large"):
        decode_document(b"{" + b" " * (16 * 1024 * 1024) + b"}")


# --- PHP -----------------------------------------------------------------------------------


def test_php_answer_decodes() -> None:
    value = {
        "status": "ok",
        "video": {"key": "tL17msiU", "size": 96768273, "ratio": 1.5, "gone": None},
        "flags": [True, False],
        "é": "démo",
    }
    assert decode_document(php(value)) == {
        "status": "ok",
        "video": {"key": "tL17msiU", "size": 96768273, "ratio": 1.5, "gone": None},
        "flags": {"0": True, "1": False},  # PHP has no lists: keys 0, 1, ...
        "é": "démo",
    }


def test_php_string_length_is_in_bytes() -> None:
    assert loads_php(php('日本 "quoted"; s:1:')) == '日本 "quoted"; s:1:'


@pytest.mark.parametrize(
    "body",
    [
        b'O:8:"stdClass":1:{s:1:"a";i:1;}',  # objects are never built
        b'a:1:{s:1:"a";O:8:"stdClass":0:{}}',
        b"a:1:{",  # truncated
        b'a:2:{s:1:"a";i:1;}',  # fewer items than announced
        b'a:1:{s:1:"a";i:1;}junk',  # trailing data
        b's:10:"short";',  # wrong string length
        b"a:1:{i:x;i:1;}",  # bad integer
        b"a:1:{d:1.5;i:1;}",  # float key
        b'a:1:{s:1:"a";d:abc;}',  # bad float
        b"a:1:{N;i:1;}",  # null key
        b"a:1:{" * 100 + b"}" * 100,  # nested too deeply
        b'a:1:{s:1:"a";C:3:"Foo":0:{}}',  # custom-serialized object
    ],
)
def test_bad_php_is_refused(body: bytes) -> None:
    with pytest.raises(AnswerParseError):
        decode_document(body)


def test_php_scalar_top_level_is_refused_by_decode_document() -> None:
    assert loads_php(b"i:5;") == 5
    with pytest.raises(AnswerParseError):
        decode_document(b"i:5;")


# --- fuzz --------------------------------------------------------------------------------

prefixes = st.sampled_from(
    [b"", b"{", b"[", b"<", b"<r>", b"<?xml version='1.0'?>", b"a:", b"a:1:{", b"O:", b"\x80"]
)


@settings(max_examples=300, deadline=None)
@given(prefixes, st.binary(max_size=200), st.one_of(st.none(), st.text(max_size=30)))
def test_property_decode_document_raises_only_answer_parse_error(
    prefix: bytes, tail: bytes, content_type: str | None
) -> None:
    try:
        doc = decode_document(prefix + tail, content_type=content_type)
    except AnswerParseError:
        return
    assert isinstance(doc, dict)


php_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=10),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    lambda children: st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=120, deadline=None)
@given(php_values)
def test_property_php_round_trip(value: Any) -> None:
    assert loads_php(php(value)) == value


@settings(max_examples=120, deadline=None)
@given(php_values.map(php), st.integers(0, 300), st.binary(max_size=3))
def test_property_mangled_php_raises_only_answer_parse_error(
    body: bytes, cut: int, junk: bytes
) -> None:
    mangled = body[:cut] + junk
    try:
        value = loads_php(mangled)
    except AnswerParseError:
        return
    # whatever was accepted is a complete value: serializing it again gives the input
    assert php(value) == mangled.strip() or isinstance(value, float | bool)
