"""The signed API: authentication errors, formats, create/show/list, the rate limit."""

from __future__ import annotations

import io
import pickle
import time
import xml.etree.ElementTree as ET
from typing import Any

import aiohttp
import pytest

from tests.integration.emulator.wire import call, create, send, sign, signed
from vidlift.testing.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio


async def _get(http: aiohttp.ClientSession, url: str, params: dict[str, str]) -> tuple[int, Any]:
    async with http.get(url, params=params) as r:
        return r.status, await r.json()


async def test_bad_signature_is_400_signature_invalid(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    params = signed(emulator, upload_method="multipart")
    params["api_signature"] = "0" * 40
    status, doc = await _get(http, f"{emulator.endpoint}/v1/videos/create", params)
    assert (status, doc["status"], doc["code"]) == (400, "error", "SignatureInvalid")
    assert doc["title"] == "Signature Invalid"
    assert "rate_limit" in doc
    assert emulator.videos() == []


async def test_tampered_parameter_breaks_the_signature(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    params = signed(emulator, upload_method="multipart", title="a")
    params["title"] = "b"
    status, doc = await _get(http, f"{emulator.endpoint}/v1/videos/create", params)
    assert (status, doc["code"]) == (400, "SignatureInvalid")


async def test_missing_signature_and_unknown_key(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    params = signed(emulator)
    del params["api_signature"]
    status, doc = await _get(http, f"{emulator.endpoint}/v1/videos/list", params)
    assert (status, doc["code"]) == (400, "ParameterMissing")
    stranger = sign(emulator.api_secret, {**signed(emulator), "api_key": "nobody12"})
    status, doc = await _get(http, f"{emulator.endpoint}/v1/videos/list", stranger)
    assert (status, doc["code"]) == (403, "PermissionDenied")


async def test_reused_nonce_is_refused(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    params = signed(emulator)
    url = f"{emulator.endpoint}/v1/videos/list"
    assert (await _get(http, url, params))[0] == 200
    status, doc = await _get(http, url, params)
    assert (status, doc["code"]) == (400, "NonceInvalid")


async def test_timestamp_outside_the_window_is_403(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    url = f"{emulator.endpoint}/v1/videos/list"
    for skew in (-301, 301):
        params = signed(emulator, api_timestamp=str(int(time.time()) + skew))
        status, doc = await _get(http, url, params)
        assert (status, doc["code"]) == (403, "TimestampExpired")
    inside = signed(emulator, api_timestamp=str(int(time.time()) - 200))
    assert (await _get(http, url, inside))[0] == 200


async def test_rate_limit_answers_429_with_the_reset_time() -> None:
    async with (
        Emulator(EmulatorConfig(api_calls_per_minute=2)) as emu,
        aiohttp.ClientSession() as http,
    ):
        status, doc = await call(http, emu, "list")
        assert doc["rate_limit"]["limit"] == 2
        assert doc["rate_limit"]["remaining"] == 1
        await call(http, emu, "list")
        status, doc = await call(http, emu, "list")
        assert (status, doc["code"]) == (429, "RateLimitExceeded")
        assert doc["rate_limit"]["remaining"] == 0
        assert time.time() < doc["rate_limit"]["reset"] <= time.time() + 61


async def test_post_form_parameters_with_unicode_and_spaces(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    params = signed(emulator, upload_method="multipart", title="démo vidéo + plus", tags="a, b")
    async with http.post(f"{emulator.endpoint}/v1/videos/create", data=params) as r:
        assert r.status == 200, await r.text()
    video = emulator.videos()[0]
    assert (video.title, video.tags) == ("démo vidéo + plus", "a, b")


async def test_create_json_answer_has_the_documented_shape(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, doc = await call(http, emulator, "create", upload_method="multipart")
    assert status == 200
    assert set(doc) == {"status", "media", "link", "session_id", "rate_limit"}
    key = doc["media"]["key"]
    assert len(key) == 8 and key.isalnum()
    assert len(doc["session_id"]) == 40 and doc["session_id"].isalnum()
    link = doc["link"]
    assert link["protocol"] == "http"
    assert link["address"] == f"127.0.0.1:{emulator.port}"
    assert link["path"] == "/v1/videos/upload/resumable"
    assert link["query"]["key"] != key and len(link["query"]["key"]) == 8
    assert set(doc["rate_limit"]) == {"reset", "limit", "remaining"}


async def test_create_xml_answer_nests_link_in_video_as_the_seed(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    params = signed(emulator, upload_method="multipart", api_format="xml")
    async with http.get(f"{emulator.endpoint}/v1/videos/create", params=params) as r:
        assert r.headers["Content-Type"].startswith("application/xml")
        root = ET.fromstring(await r.read())
    assert root.findtext("status") == "ok"
    video = root.find("video")
    assert video is not None and len(video.get("key", "")) == 8
    assert video.findtext("link/path") == "/v1/videos/upload/resumable"
    assert len(video.findtext("link/query/key") or "") == 8
    assert len(video.findtext("session_id") or "") == 40
    rate_limit = root.find("rate_limit")
    assert rate_limit is not None and rate_limit.get("limit") == "1000000"


async def test_legacy_resumable_true_and_missing_upload_method(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    assert (await call(http, emulator, "create", resumable="true"))[0] == 200
    status, doc = await call(http, emulator, "create")
    assert (status, doc["code"]) == (400, "ParameterMissing")
    status, doc = await call(http, emulator, "create", upload_method="form")
    assert (status, doc["code"]) == (400, "ParameterInvalid")
    status, doc = await call(http, emulator, "create", upload_method="s3")  # one signed PUT
    assert status == 200 and "session_id" not in doc and "X-Amz-Signature" in doc["link"]["query"]


class _NoClasses(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise AssertionError(f"the pickle names a class: {module}.{name}")


async def test_php_and_py_formats_carry_video_key(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    url = f"{emulator.endpoint}/v1/videos/create"
    params = signed(emulator, upload_method="multipart", api_format="py")
    async with http.get(url, params=params) as r:
        doc = _NoClasses(io.BytesIO(await r.read())).load()
    assert doc["status"] == "ok" and doc["video"]["key"] == doc["media"]["key"]
    params = signed(emulator, upload_method="multipart", api_format="php")
    async with http.get(url, params=params) as r:
        text = await r.text()
    assert text.startswith('a:6:{s:6:"status";s:2:"ok";')
    assert 's:5:"video";a:3:{s:3:"key";s:8:"' in text


async def test_list_finds_videos_by_custom_parameter(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    await create(http, emulator, title="First clip", **{"custom.legacy_id": "A-1"})
    second = await create(http, emulator, title="Second", **{"custom.legacy_id": "A-2"})
    await send(http, second, b"abc", 0, 2)
    status, doc = await call(http, emulator, "list", **{"search:custom.legacy_id": "A-2"})
    assert status == 200
    assert doc["total"] == 1
    assert [v["key"] for v in doc["videos"]] == [second.video_key]
    assert doc["videos"][0]["md5"] == "900150983cd24fb0d6963f7d28e17f72"
    _, doc = await call(http, emulator, "list", search="first")
    assert [v["title"] for v in doc["videos"]] == ["First clip"]
    _, doc = await call(http, emulator, "list", statuses_filter="ready")
    assert doc["total"] == 1
    _, doc = await call(http, emulator, "list", **{"search:custom.*": "A-1"})
    assert doc["total"] == 1
    _, doc = await call(http, emulator, "list", result_limit="1", result_offset="1")
    assert (doc["total"], doc["limit"], doc["offset"], len(doc["videos"])) == (2, 1, 1, 1)
    status, doc = await call(http, emulator, "list", result_limit="1001")
    assert (status, doc["code"]) == (400, "ParameterInvalid")


async def test_show_errors(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    status, doc = await call(http, emulator, "show", video_key="nope1234")
    assert (status, doc["code"]) == (404, "NotFound")
    status, doc = await call(http, emulator, "show")
    assert (status, doc["code"]) == (400, "ParameterMissing")


async def test_unknown_call_and_route_are_404(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, doc = await call(http, emulator, "delete", video_key="x")
    assert (status, doc["code"]) == (404, "NotFound")
    async with http.get(f"{emulator.endpoint}/v2/whatever") as r:
        assert r.status == 404
        assert (await r.json())["status"] == "error"


async def test_bad_metadata_is_parameter_invalid(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, doc = await call(http, emulator, "create", upload_method="multipart", date="2020-01-01")
    assert (status, doc["code"]) == (400, "ParameterInvalid")
    status, doc = await call(
        http, emulator, "create", upload_method="multipart", **{"custom.bad name": "x"}
    )
    assert (status, doc["code"]) == (400, "ParameterInvalid")
    status, doc = await call(http, emulator, "list", api_format="yaml")
    assert (status, doc["code"]) == (400, "ParameterInvalid")


async def test_public_url_decides_the_link(http: aiohttp.ClientSession) -> None:
    config = EmulatorConfig(public_url="https://uploads.example.org:8443/")
    async with Emulator(config) as emu:
        _, doc = await call(http, emu, "create", upload_method="multipart")
    assert (doc["link"]["protocol"], doc["link"]["address"]) == (
        "https",
        "uploads.example.org:8443",
    )


async def test_config_repr_hides_the_secret() -> None:
    config = EmulatorConfig(api_secret="very-secret-value")
    assert "very-secret-value" not in repr(config)
    async with Emulator(config) as emu:
        assert "very-secret-value" not in repr(emu.config)
        assert emu.api_secret == "very-secret-value"


async def test_list_follows_custom_parameters_changed_by_update(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator, **{"custom.legacy_id": "old", "custom.batch": "b1"})
    status, _ = await call(
        http,
        emulator,
        "update",
        video_key=up.video_key,
        upload_method="multipart",
        **{"custom.legacy_id": "new"},
    )
    assert status == 200
    _, doc = await call(http, emulator, "list", **{"search:custom.legacy_id": "old"})
    assert doc["total"] == 0
    _, doc = await call(
        http, emulator, "list", **{"search:custom.legacy_id": "new", "search:custom.batch": "b1"}
    )
    assert [v["key"] for v in doc["videos"]] == [up.video_key]
    assert doc["videos"][0]["custom"] == {"legacy_id": "new", "batch": "b1"}
