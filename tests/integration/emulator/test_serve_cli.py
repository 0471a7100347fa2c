"""``vidlift serve`` as a real process: the first line, signed calls, clean stop, no secret
in the request log."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.integration.emulator.wire import Upload, on_port, send, sign, upload_of

pytestmark = pytest.mark.anyio

SECRET = "cli-test-secret-3b1f7c"
PREFIX = "vidlift emulator listening on "


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vidlift",
        "serve",
        "--port",
        "0",
        "--api-secret",
        SECRET,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        first = (await process.stdout.readline()).decode().rstrip("\n")
        rest = [(await process.stdout.readline()).decode().rstrip("\n") for _ in range(3)]
    assert first.startswith(PREFIX), first
    return process, first[len(PREFIX) :], rest


async def _stop(process: asyncio.subprocess.Process, signum: int) -> tuple[int, str, str]:
    process.send_signal(signum)
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_serve_prints_the_endpoint_logs_requests_and_stops_on_sigint(tmp_path: Path) -> None:
    process, endpoint, rest = await _start("--data", str(tmp_path / "data"))
    try:
        assert endpoint.startswith("http://127.0.0.1:")
        assert rest[0].split() == ["api", "key:", "demokey1"]
        assert rest[1].split() == ["api", "secret:", SECRET]
        assert rest[2].split() == ["data", "dir:", str(tmp_path / "data")]
        params = sign(
            SECRET,
            {
                "api_key": "demokey1",
                "api_nonce": "123456789",
                "api_format": "json",
                "api_timestamp": str(int(time.time())),
                "upload_method": "multipart",
            },
        )
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{endpoint}/v1/videos/create", params=params) as r,
        ):
            assert r.status == 200
            doc = await r.json()
    finally:
        code, _out, err = await _stop(process, signal.SIGINT)
    assert code == 0
    assert "GET /v1/videos/create 200" in err
    assert SECRET not in err
    assert params["api_signature"] not in err
    saved = tmp_path / "data" / "videos" / f"{doc['media']['key']}.json"
    assert await asyncio.to_thread(saved.is_file)


async def test_serve_stops_on_sigterm_and_removes_its_temp_dir() -> None:
    process, _endpoint, rest = await _start("--quiet")
    data_dir = Path(rest[2].split()[2])
    try:
        assert await asyncio.to_thread(data_dir.is_dir)
    finally:
        code, _out, err = await _stop(process, signal.SIGTERM)
    assert code == 0
    assert err == ""
    assert not await asyncio.to_thread(data_dir.exists)


def _signed(**params: str) -> dict[str, str]:
    base = {
        "api_key": "demokey1",
        "api_nonce": f"{time.monotonic_ns() % 10**9:09d}",
        "api_timestamp": str(int(time.time())),
    }
    return sign(SECRET, base | params)


async def test_acknowledged_ranges_survive_kill_9(tmp_path: Path) -> None:
    data = os.urandom(30_000)
    data_dir = str(tmp_path / "data")
    process, endpoint, _ = await _start("--data", data_dir, "--quiet")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{endpoint}/v1/videos/create", params=_signed(upload_method="multipart")
            ) as r:
                up: Upload = upload_of(await r.json())
            assert (await send(http, up, data, 0, 9_999)).status == 201
            assert (await send(http, up, data, 20_000, 29_999)).status == 201
    finally:
        process.kill()  # SIGKILL: no chance to flush anything
        await process.communicate()
    process, endpoint, _ = await _start("--data", data_dir, "--quiet")
    try:
        async with aiohttp.ClientSession() as http:
            moved = on_port(up, int(endpoint.rsplit(":", 1)[1]))
            probe = await send(http, moved, data, 0, 0)
            assert probe.text == "0-9999/30000,20000-29999/30000"
            assert (await send(http, moved, data, 10_000, 19_999)).status == 200
            params = _signed(video_key=up.video_key)
            async with http.get(f"{endpoint}/v1/videos/show", params=params) as r:
                video = (await r.json())["video"]
        assert video["md5"] == hashlib.md5(data).hexdigest()
    finally:
        code, _out, _err = await _stop(process, signal.SIGTERM)
    assert code == 0


async def test_serve_refuses_a_rate_limit_window_of_zero() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vidlift", "serve", "--port", "0", "--api-window-s", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode == 2, err
    assert b"--api-window-s" in err and b"Traceback" not in err
    assert b"listening" not in out


async def test_a_client_gone_mid_request_is_logged_without_a_traceback() -> None:
    process, endpoint, _ = await _start()
    host, port = endpoint.removeprefix("http://").split(":")
    try:
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(  # a form body announced at 1,000 bytes, 12 sent, then the client dies
            b"POST /v1/videos/create HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            b"api_key=demo"
        )
        await writer.drain()
        writer.transport.abort()
        assert process.stderr is not None
        seen: list[str] = []
        async with asyncio.timeout(30):
            while not any("POST /v1/videos/create 499" in line for line in seen):
                seen.append((await process.stderr.readline()).decode())
    finally:
        code, _out, err = await _stop(process, signal.SIGTERM)
    assert code == 0
    assert "Traceback" not in "".join(seen) + err, "".join(seen) + err
