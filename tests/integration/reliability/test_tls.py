"""TLS: certificates are verified by default; an untrusted one stops the batch at once
with a clear message (no job burns its retries on it); ``--insecure`` warns and works."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from .proxy import tamper_proxy

pytestmark = pytest.mark.anyio


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not available to make a self-signed certificate")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_self_signed_certificate_is_refused_unless_insecure(tmp_path: Path) -> None:
    context = self_signed_context(tmp_path)
    (tmp_path / "lib").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "lib" / name).write_bytes(os.urandom(90_000))
    manifest = tmp_path / "lib" / "library.csv"
    manifest.write_text("id,path\na,a.mp4\nb,b.mp4\n")
    async with tamper_proxy(tmp_path, ssl_context=context) as proxy:
        emu = proxy.emulator
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
        env.update(
            VIDLIFT_ENDPOINT=proxy.endpoint,
            VIDLIFT_API_KEY=emu.api_key,
            VIDLIFT_API_SECRET=emu.api_secret,
        )
        assert proxy.endpoint.startswith("https://")
        command = [sys.executable, "-m", "vidlift", "run", str(manifest), "--log-format", "json"]
        with anyio.fail_after(30):  # the default backoff would take minutes if it retried
            refused = await anyio.run_process(command, env=env, check=False)
        errors = refused.stderr.decode()
        assert refused.returncode == 2, errors
        assert "the batch stopped: the TLS certificate of 127.0.0.1" in errors
        assert "is not trusted" in errors and "certificate verify failed" in errors
        assert "--insecure" in errors
        assert b"job_retrying" not in refused.stdout
        assert emu.videos() == []
        assert "0 done, 0 failed, 2 left" in errors  # nothing failed: fix it, run again

        insecure = await anyio.run_process([*command, "--insecure"], env=env, check=False)
        errors = insecure.stderr.decode()
        assert insecure.returncode == 0, errors
        assert "warning: TLS certificate verification is OFF (--insecure)" in errors
        assert sorted(v.custom["vidlift_job_id"] for v in emu.videos()) == ["a", "b"]
        assert proxy.segments_of("a.mp4") and proxy.segments_of("b.mp4")  # uploads over TLS


async def test_one_file_upload_refuses_a_self_signed_certificate_unless_insecure(
    tmp_path: Path,
) -> None:
    """`vidlift upload` sends through its own transport (h11): the same verification, the
    same message, exit 2 at once; with --insecure the file goes up over TLS."""
    context = self_signed_context(tmp_path)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(os.urandom(150_000))
    async with tamper_proxy(tmp_path, ssl_context=context) as proxy:
        emu = proxy.emulator
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
        env.update(VIDLIFT_API_KEY=emu.api_key, VIDLIFT_API_SECRET=emu.api_secret)
        command = [sys.executable, "-m", "vidlift", "upload", str(clip)]
        command += ["--endpoint", proxy.endpoint, "--chunk-size", "64KiB"]
        with anyio.fail_after(30):  # the default backoff would take minutes if it retried
            refused = await anyio.run_process(command, env=env, check=False)
        errors = refused.stderr.decode()
        assert refused.returncode == 2, errors
        assert "Traceback" not in errors
        assert "the TLS certificate of 127.0.0.1" in errors and "is not trusted" in errors
        assert "certificate verify failed" in errors and "--insecure" in errors
        assert emu.videos() == []

        insecure = await anyio.run_process([*command, "--insecure"], env=env, check=False)
        errors = insecure.stderr.decode()
        assert insecure.returncode == 0, errors
        assert "warning: TLS certificate verification is OFF (--insecure)" in errors
        assert len(emu.videos()) == 1 and proxy.segments_of("clip.mp4")  # sent over TLS
