"""Emulator hardening not covered in tests/integration/emulator: a replayed signed *create*
(the request whose replay would do harm: a second video), as a form POST and as a GET.

Already covered there: path traversal through the filename (test_upload.py
test_filename_never_decides_where_bytes_go) and the session id (test_rejections.py
test_invalid_session_id_drops_the_connection), oversized segments
(test_oversized_segment_is_413_before_any_byte_is_read), too many simultaneous segments
(test_more_simultaneous_segments_than_allowed_is_503), session/key mismatch
(test_unknown_session_and_wrong_key) and a replayed signed list call
(test_api.py test_reused_nonce_is_refused).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.integration.emulator.wire import signed
from vidlift.testing.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_replayed_signed_create_is_refused_and_creates_nothing(
    tmp_path: Path, method: str
) -> None:
    async with (
        Emulator(EmulatorConfig(data_dir=tmp_path / "emu")) as emu,
        aiohttp.ClientSession() as http,
    ):
        params = signed(emu, title="Once", upload_method="multipart")
        url = f"{emu.endpoint}/v1/videos/create"
        answers = []
        for _ in range(2):  # the same bytes on the wire, twice
            if method == "POST":
                request = http.post(url, data=params)
            else:
                request = http.get(url, params=params)
            async with request as response:
                answers.append((response.status, await response.json()))
        (first_status, first), (second_status, second) = answers
        assert first_status == 200 and first["status"] == "ok"
        assert (second_status, second["code"]) == (400, "NonceInvalid")
        assert [video.title for video in emu.videos()] == ["Once"]
