"""vidlift against a real upload server: nginx with the nginx upload module, the server
the protocol notes' transcripts come from (../shared/wire). The emulator is built to
behave like it; these tests check the client against the real thing: segments, a
session another client began, and a `kill -9` in the middle of a segment.

Skipped, saying why, where no such nginx is built (``vidlift.testing.nginx`` says how).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from vidlift.testing.nginx import NginxUploadServer, find_nginx, nginx

MiB = 1024 * 1024
NGINX = find_nginx()

pytestmark = pytest.mark.skipif(
    NGINX is None,
    reason="no nginx with the upload module: build one and set VIDLIFT_NGINX "
    "(vidlift.testing.nginx says how)",
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NginxUploadServer]:
    assert NGINX is not None
    with nginx(NGINX, tmp_path / "nginx") as running:
        yield running


def upload_command(server: NginxUploadServer, file: Path, session: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "vidlift",
        "upload",
        str(file),
        "--upload-url",
        server.upload_url,
        "--session-id",
        session,
        "--chunk-size",
        "1MiB",
        "--json",
        *extra,
    ]


def upload(server: NginxUploadServer, file: Path, session: str) -> dict[str, object]:
    done = subprocess.run(
        upload_command(server, file, session),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    document: dict[str, object] = json.loads(done.stdout)
    # this server's final answer states no size, and --upload-url has no API: say so
    assert document["checked"] == "none"
    assert "warning: nothing checked that the server holds the whole file" in done.stderr
    return document


def clip(tmp_path: Path, size: int) -> tuple[bytes, Path]:
    """Random bytes, and a file holding them."""
    data = os.urandom(size)
    file = tmp_path / "clip.bin"
    file.write_bytes(data)
    return data, file


def upload_finished(server: NginxUploadServer, file: Path, session: str, data: bytes) -> int:
    """Run the upload to its end; check the server holds the file; the bytes it sent."""
    document = upload(server, file, session)
    assert document["status"] == "ok", json.dumps(document)
    assert server.stored(session).read_bytes() == data
    sent = document["bytes_sent"]
    assert isinstance(sent, int)
    return sent


def test_a_file_in_segments_arrives_byte_identical(
    server: NginxUploadServer, tmp_path: Path
) -> None:
    data, file = clip(tmp_path, 5 * MiB + 12345)
    session = server.session_id("whole")
    document = upload(server, file, session)
    assert document["status"] == "ok"
    assert document["segments_sent"] == 6, json.dumps(document)
    assert document["bytes_sent"] == len(data)
    assert server.stored(session).read_bytes() == data


def send_segment(server: NginxUploadServer, session: str, data: bytes, start: int, end: int) -> str:
    """One segment sent as another client (curl) would; the server's Range answer."""
    url = urlsplit(server.upload_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        connection.request(
            "POST",
            url.path,
            body=data[start : end + 1],
            headers={
                "X-Session-ID": session,
                "X-Content-Range": f"bytes {start}-{end}/{len(data)}",
                "Content-Disposition": 'attachment; filename="clip.bin"',
                "Content-Type": "application/octet-stream",
            },
        )
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 201
        return answer.getheader("Range") or ""
    finally:
        connection.close()


def test_a_session_another_client_began_is_finished_not_sent_again(
    server: NginxUploadServer, tmp_path: Path
) -> None:
    data, file = clip(tmp_path, 4 * MiB + 7)
    session = server.session_id("begun")
    assert send_segment(server, session, data, 0, 2 * MiB - 1) == f"0-{2 * MiB - 1}/{len(data)}"
    # what the server held was not sent again (a one-byte probe may re-send one byte)
    assert upload_finished(server, file, session, data) <= len(data) - 2 * MiB + 1


def test_kill_9_in_the_middle_then_the_same_command_finishes_the_file(
    server: NginxUploadServer, tmp_path: Path
) -> None:
    data, file = clip(tmp_path, 8 * MiB)
    session = server.session_id("killed")
    slow = upload_command(server, file, session, "--bwlimit", "2MiB")
    process = subprocess.Popen(slow, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # nginx tells nothing of progress but its file: wait until 3 MiB are there
        deadline = time.monotonic() + 30
        while not (
            server.stored(session).exists() and server.stored(session).stat().st_size >= 3 * MiB
        ):
            assert process.poll() is None, "the upload ended before it was killed"
            assert time.monotonic() < deadline, "no progress on the server in 30 s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert upload_finished(server, file, session, data) < len(data) - 2 * MiB  # resumed
