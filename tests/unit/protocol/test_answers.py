"""API answers into models: every placement PROTOCOL.md lists, and the error answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidlift.errors import (
    AnswerParseError,
    ApiError,
    AuthError,
    NonceReused,
    RateLimited,
    VideoMissing,
)
from vidlift.protocol.answers import (
    api_error_from,
    parse_create_answer,
    parse_final_answer,
    parse_video_info,
    parse_video_list,
)
from vidlift.protocol.documents import decode_document
from vidlift.protocol.models import RateLimit, RedirectLink

from .samples import SEED_CREATE_XML, php

SESSION = "kwJei9j2vtQmcbojrlGJY3mbJFMHfzZwPXBwoSQr"
LINK = {
    "protocol": "http",
    "address": "upload.jwplatform.com",
    "path": "/v1/videos/upload/resumable",
    "query": {"key": "vtQmcboj"},
}


def xml(text: str) -> dict[str, Any]:
    return decode_document(text.encode())


# --- create / update ---------------------------------------------------------------------


def test_create_answer_seed_xml() -> None:
    answer = parse_create_answer(decode_document(SEED_CREATE_XML))
    assert answer.video_key == "tL17msiU"
    assert answer.session_id == SESSION
    assert answer.link.protocol == "http"
    assert answer.link.address == "upload.jwplatform.com"
    assert answer.link.path == "/v1/videos/upload/resumable"
    assert answer.link.query.key == "vtQmcboj"
    assert answer.link.query.key != answer.video_key
    assert answer.rate_limit is None


def test_create_answer_json_top_level() -> None:
    doc = {
        "status": "ok",
        "media": {"type": "video", "key": "tL17msiU"},
        "link": LINK,
        "session_id": SESSION,
        "rate_limit": {"reset": 1700000060, "limit": 60, "remaining": 59},
    }
    answer = parse_create_answer(decode_document(json.dumps(doc).encode()))
    assert answer.video_key == "tL17msiU"
    assert answer.session_id == SESSION
    assert answer.link.query.key == "vtQmcboj"
    assert answer.rate_limit == RateLimit(reset=1700000060, limit=60, remaining=59)


def test_create_answer_video_key_py_php_style() -> None:
    doc = {"status": "ok", "video": {"key": "tL17msiU"}, "link": LINK, "session_id": SESSION}
    assert parse_create_answer(decode_document(php(doc))).video_key == "tL17msiU"
    assert parse_create_answer(doc).link.address == "upload.jwplatform.com"


def test_create_answer_xml_rate_limit_attributes() -> None:
    doc = xml(
        "<response><status>ok</status><rate_limit reset='1700000060' limit='60' remaining='0'/>"
        "<video key='tL17msiU'><link><protocol>https</protocol><address>u.example:8443</address>"
        "<path>/up</path><query><key>k</key><token>t</token></query></link>"
        f"<session_id>{SESSION}</session_id></video></response>"
    )
    answer = parse_create_answer(doc, call="videos/update")
    assert answer.rate_limit == RateLimit(reset=1700000060, limit=60, remaining=0)
    assert answer.link.query.extra_params() == {"token": "t"}


def test_create_answer_broken_rate_limit_does_not_fail_it() -> None:
    doc = {
        "status": "ok",
        "media": {"key": "k"},
        "link": LINK,
        "session_id": SESSION,
        "rate_limit": {"reset": "soon"},
    }
    assert parse_create_answer(doc).rate_limit is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"session_id": "../etc.x"}, "session_id"),
        ({"session_id": ""}, "session_id"),
        ({"session_id": None}, "session_id"),
        ({"link": None}, "link"),
        ({"link": {**LINK, "protocol": "ftp"}}, "protocol"),
        ({"link": {**LINK, "query": {}}}, "key"),
        ({"media": {"key": ""}}, "video_key"),
        ({"media": "tL17msiU"}, "video_key"),
    ],
)
def test_create_answer_of_the_wrong_shape(change: dict[str, Any], problem: str) -> None:
    doc = {"status": "ok", "media": {"key": "tL17msiU"}, "link": LINK, "session_id": SESSION}
    with pytest.raises(AnswerParseError, match=problem):
        parse_create_answer({**doc, **change})


@pytest.mark.parametrize("status", [None, "", "OK", "pending", 1])
def test_answer_without_status_ok_is_refused(status: object) -> None:
    doc = {"status": status, "media": {"key": "k"}, "link": LINK, "session_id": SESSION}
    with pytest.raises(AnswerParseError, match="expected 'ok'"):
        parse_create_answer(doc)


# --- final upload answer --------------------------------------------------------------------

SEED_FINAL_XML = """<?xml version="1.0" encoding="UTF-8"?>
<response>
  <status>ok</status>
  <video key="tL17msiU">
    <size>96768273</size>
  </video>
  <redirect_link>
    <address>http://example.com/path/tL17msiU</address>
    <query>
      <parameter1>value1</parameter1>
      <parameter2>value2</parameter2>
    </query>
  </redirect_link>
</response>
"""


def test_final_answer_seed_xml() -> None:
    final = parse_final_answer(xml(SEED_FINAL_XML))
    assert final.status == "ok"
    assert final.video_key == "tL17msiU"
    assert final.size == 96768273
    assert final.redirect_link == RedirectLink(
        address="http://example.com/path/tL17msiU",
        query={"parameter1": "value1", "parameter2": "value2"},
    )


def test_final_answer_redirect_link_inside_video() -> None:
    doc = xml(
        "<response><status>ok</status><video key='tL17msiU'><size>5368709120</size>"
        "<redirect_link><address>http://e.com/p</address><query/></redirect_link>"
        "</video></response>"
    )
    final = parse_final_answer(doc)
    assert final.size == 5 * 1024**3
    assert final.redirect_link == RedirectLink(address="http://e.com/p", query={})


@pytest.mark.parametrize(
    "doc",
    [
        {"status": "ok", "media": {"key": "tL17msiU"}, "file": {"size": 10485760}},
        {"status": "ok", "video": {"key": "tL17msiU", "size": "10485760"}},
        {"status": "ok", "media": {"key": "tL17msiU", "size": 10485760}, "file": {"size": 1}},
    ],
    ids=["media+file", "video.size", "video-size-wins"],
)
def test_final_answer_json_placements(doc: dict[str, Any]) -> None:
    final = parse_final_answer(decode_document(json.dumps(doc).encode()))
    assert final.video_key == "tL17msiU"
    assert final.size == 10485760


def test_final_answer_without_size_or_key() -> None:
    doc = xml("<response><status>ok</status><video><size/></video></response>")
    final = parse_final_answer(doc)
    assert final.size is None
    assert final.video_key is None


def test_final_answer_odd_redirect_link_is_dropped_not_fatal() -> None:
    for redirect in ({"query": {"a": "b"}}, {"address": "x", "query": {"a": ["1", "2"]}}, "x"):
        final = parse_final_answer(
            {"status": "ok", "video": {"key": "k", "size": 3}, "redirect_link": redirect}
        )
        assert final.redirect_link is None
        assert final.size == 3


@pytest.mark.parametrize("size", [-1, "big", 1.5, [1]])
def test_final_answer_bad_size_is_refused(size: object) -> None:
    with pytest.raises(AnswerParseError, match="size"):
        parse_final_answer({"status": "ok", "video": {"key": "k", "size": size}})


# --- show / list ------------------------------------------------------------------------------

SHOW_JSON = {
    "status": "ok",
    "video": {
        "key": "tL17msiU",
        "title": "Holiday",
        "status": "ready",
        "size": "96768273",
        "duration": "12.50",
        "md5": "0123456789abcdef0123456789abcdef",
        "custom": {"legacy_id": "1234", "n": 5, "gone": None, "nested": {"x": 1}},
        "upload_session_id": SESSION,
        "date": 1700000000,
    },
}


def test_video_info_json() -> None:
    info = parse_video_info(SHOW_JSON)
    assert info.key == "tL17msiU"
    assert info.title == "Holiday"
    assert info.status == "ready"
    assert info.size == 96768273
    assert info.md5 == "0123456789abcdef0123456789abcdef"
    assert info.custom == {"legacy_id": "1234", "n": "5"}
    assert info.upload_session_id == SESSION


def test_video_info_xml_blank_fields() -> None:
    info = parse_video_info(
        xml(
            "<response><status>ok</status><video key='k1'><title/><status>created</status>"
            "<size/><md5/><custom/></video></response>"
        )
    )
    assert (info.key, info.title, info.status, info.size, info.md5, info.custom) == (
        "k1",
        "",
        "created",
        None,
        None,
        {},
    )


def test_video_info_null_title() -> None:
    assert parse_video_info({"status": "ok", "video": {"key": "k", "title": None}}).title == ""


def test_video_info_without_key_is_refused() -> None:
    with pytest.raises(AnswerParseError, match="key"):
        parse_video_info({"status": "ok", "video": {"title": "x"}})


def test_video_list_xml_one_several_and_none() -> None:
    one = xml(
        "<response><status>ok</status><videos><video key='a'><title>A</title></video></videos>"
        "<total>1</total></response>"
    )
    assert [v.key for v in parse_video_list(one).videos] == ["a"]
    assert parse_video_list(one).total == 1
    several = xml(
        "<response><status>ok</status><videos><video key='a'/><video key='b'>"
        "<custom><legacy_id>7</legacy_id></custom></video><video key='c'/></videos>"
        "<total>3</total></response>"
    )
    listed = parse_video_list(several)
    assert [v.key for v in listed.videos] == ["a", "b", "c"]
    assert listed.videos[1].custom == {"legacy_id": "7"}
    assert listed.total == 3
    none = xml("<response><status>ok</status><videos/><total>0</total></response>")
    assert parse_video_list(none).videos == []


def test_video_list_json_and_php() -> None:
    doc = {"status": "ok", "videos": [{"key": "a"}, {"key": "b"}, "junk"], "total": 2}
    assert [v.key for v in parse_video_list(doc).videos] == ["a", "b"]
    from_php = decode_document(
        php({"status": "ok", "videos": [{"key": str(i)} for i in range(12)], "total": 12})
    )
    assert [v.key for v in parse_video_list(from_php).videos] == [str(i) for i in range(12)]
    assert parse_video_list({"status": "ok"}).videos == []


def test_video_list_of_the_wrong_shape() -> None:
    with pytest.raises(AnswerParseError, match="not a list"):
        parse_video_list({"status": "ok", "videos": "many"})
    with pytest.raises(AnswerParseError, match="not a list"):
        parse_video_list({"status": "ok", "videos": {"x": {"key": "a"}}})


# --- errors ------------------------------------------------------------------------------------


def test_error_answer_json() -> None:
    doc = {"status": "error", "code": "NotFound", "title": "Not Found", "message": "no such video"}
    with pytest.raises(ApiError) as info:
        parse_video_info(doc, http_status=404)
    error = info.value
    assert type(error) is VideoMissing  # a video call's NotFound: the video is gone
    assert (error.http_status, error.code, error.title, error.message, error.call) == (
        404,
        "NotFound",
        "Not Found",
        "no such video",
        "videos/show",
    )
    assert "404 NotFound: no such video" in str(error)


def test_error_answer_upload_server_missing_session() -> None:
    body = (
        b'{"status": "error", "code": "ParameterMissing", "title": "Missing",'
        b' "message": "X-Session-ID header is missing"}'
    )
    with pytest.raises(ApiError, match="X-Session-ID header is missing") as info:
        parse_final_answer(decode_document(body), http_status=400)
    assert info.value.code == "ParameterMissing"
    assert info.value.http_status == 400


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("SignatureInvalid", 400),
        ("TimestampExpired", 403),
        ("PermissionDenied", 403),
        ("Whatever", 401),
        ("Whatever", 403),
    ],
)
def test_auth_errors(code: str, status: int) -> None:
    doc = xml(
        f"<response><status>error</status><code>{code}</code><title>T</title>"
        "<message>refused</message></response>"
    )
    with pytest.raises(AuthError) as info:
        parse_create_answer(doc, http_status=status)
    assert info.value.code == code
    assert info.value.http_status == status
    assert info.value.message == "refused"


def test_a_reused_nonce_is_not_an_auth_error() -> None:
    doc = {"status": "error", "code": "NonceInvalid", "message": "api_nonce was already used"}
    with pytest.raises(NonceReused) as info:
        parse_create_answer(doc, http_status=400)
    assert not isinstance(info.value, AuthError)
    assert info.value.message == "api_nonce was already used"


def test_rate_limited_with_reset() -> None:
    doc = {
        "status": "error",
        "code": "RateLimitExceeded",
        "message": "slow down",
        "rate_limit": {"reset": 1700000060, "limit": 60, "remaining": 0},
    }
    with pytest.raises(RateLimited) as info:
        parse_create_answer(doc, http_status=429)
    assert info.value.reset_at == 1700000060.0
    assert info.value.code == "RateLimitExceeded"
    assert info.value.http_status == 429


@pytest.mark.parametrize("reset", [None, "soon", -5, 10**400])
def test_rate_limited_without_a_usable_reset(reset: object) -> None:
    error = api_error_from({"code": "X", "rate_limit": {"reset": reset}}, http_status=429)
    assert isinstance(error, RateLimited)
    assert error.reset_at is None


def test_api_error_from_defaults() -> None:
    error = api_error_from({}, http_status=500, call="videos/list")
    assert type(error) is ApiError
    assert (error.code, error.message, error.title) == ("Unknown", "no message", "")
    titled = api_error_from({"code": "InternalError", "title": "Oops"}, http_status=500)
    assert titled.message == "Oops"


# --- fuzz ----------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["", "ok", "error", "123", "-1", "http", "a.example", "/p", "k1"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=6), children, max_size=3),
    ),
    max_leaves=4,
)
known_keys = st.sampled_from(
    [
        "status",
        "video",
        "media",
        "file",
        "link",
        "session_id",
        "rate_limit",
        "redirect_link",
        "videos",
        "total",
        "code",
        "message",
        "title",
        "key",
        "size",
        "query",
        "custom",
        "reset",
        "protocol",
        "address",
        "path",
        "video",
    ]
)
statuses = st.sampled_from(["ok", "error", None, "OK"])
answer_docs = st.builds(
    lambda body, status: {**body, "status": status} if status is not None else body,
    st.dictionaries(
        known_keys,
        st.one_of(scalars, json_values, st.dictionaries(known_keys, json_values, max_size=4)),
        max_size=5,
    ),
    statuses,
)
parsers = st.sampled_from(
    [parse_create_answer, parse_final_answer, parse_video_info, parse_video_list]
)


@settings(max_examples=150, deadline=None)
@given(parsers, answer_docs, st.sampled_from([200, 400, 403, 429, 500]))
def test_property_parsers_raise_only_parse_or_api_errors(
    parser: Any, doc: dict[str, Any], http_status: int
) -> None:
    try:
        parser(doc, http_status=http_status)
    except ApiError as error:
        assert doc.get("status") == "error"
        assert error.http_status == http_status
    except AnswerParseError:
        assert doc.get("status") != "error"


def test_a_failed_videos_error_message_is_read() -> None:
    """videos/show of a video whose processing failed: ``error.message`` (--wait-ready)."""
    doc = {"status": "ok", "video": {"key": "K", "status": "failed", "error": {"message": "bad"}}}
    info = parse_video_info(doc)
    assert (info.status, info.error_message) == ("failed", "bad")
    assert parse_video_info({"status": "ok", "video": {"key": "K"}}).error_message is None
