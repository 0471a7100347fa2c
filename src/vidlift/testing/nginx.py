"""A real upload server: nginx with the nginx upload module, for the tests that check
vidlift against it (``tests/integration/client/test_real_nginx.py``) and for
``benchmarks/protocol.py --nginx``.

The module (fdintino/nginx-upload-module, the server the protocol notes' transcripts come
from) is not packaged by Debian; build it into nginx from source:

    auto/configure --with-http_ssl_module --add-module=PATH/nginx-upload-module
    make

and point ``VIDLIFT_NGINX`` at ``objs/nginx`` (default: ``/opt/ngx/objs/nginx``). The
server here: one worker process, ``upload_resumable on``,
64 MiB segments, files kept in a directory on tmpfs (``/dev/shm``, emptied per round, so
the disk's write-back does not share the 2 cores), no checksum computed by the server,
and a final answer shaped like the platform's (``<response><status>ok</status>…``).
Sessions are made up by the client: this server needs no API call before the bytes.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["UPLOAD_PATH", "NginxUploadServer", "find_nginx", "nginx"]

DEFAULT_BINARY = Path("/opt/ngx/objs/nginx")

UPLOAD_PATH = "/v1/videos/upload/resumable"
_ANSWER = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<response><status>ok</status><video key="ngxbench"></video></response>'
)

_CONFIG = """\
user {user};
worker_processes 1;
daemon off;
error_log {root}/error.log notice;
pid {root}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64m;
        location {path} {{
            upload_resumable on;
            upload_store {store};
            upload_state_store {root}/state;
            upload_store_access user:rw;
            upload_pass @done;
            upload_cleanup 502 503 504;
        }}
        location @done {{
            default_type application/xml;
            return 200 '{answer}';
        }}
    }}
}}
"""


def find_nginx() -> Path | None:
    """The nginx binary ``VIDLIFT_NGINX`` names (or the default), if it has the upload
    module; None otherwise."""
    binary = Path(os.environ.get("VIDLIFT_NGINX", DEFAULT_BINARY))
    if not os.access(binary, os.X_OK):
        return None
    version = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False)
    return binary if "upload" in version.stderr else None


@dataclass
class NginxUploadServer:
    """A running nginx: where to send, and what it has completed."""

    endpoint: str
    store: Path
    _sessions: int = 0

    @property
    def upload_url(self) -> str:
        """The URL segments go to."""
        return self.endpoint + UPLOAD_PATH

    def session_id(self, name: str) -> str:
        """A new upload session's id (the client names it; no API call)."""
        self._sessions += 1
        return f"{name}-{self._sessions}"

    def stored(self, session_id: str) -> Path:
        """Where the server keeps the bytes of ``session_id``."""
        return self.store / session_id

    def completed(self, size_bytes: int) -> int:
        """How many stored files have all ``size_bytes`` (the module keeps a completed
        upload under its session id; an incomplete one is smaller)."""
        return sum(1 for f in self.store.iterdir() if f.stat().st_size == size_bytes)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"nginx exited with {process.returncode}: see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)  # nginx signals nothing when it listens: poll
    raise SystemExit(f"nginx did not listen on {port} within 10 s: see {log}")


@contextmanager
def nginx(binary: Path, root: Path) -> Iterator[NginxUploadServer]:
    """nginx from ``binary`` with its files under ``root`` and its store on tmpfs."""
    shutil.rmtree(root, ignore_errors=True)
    for name in ("state", "body"):
        (root / name).mkdir(parents=True)
    shm = Path("/dev/shm")
    store = Path(tempfile.mkdtemp(prefix="vidlift-nginx-", dir=shm if shm.is_dir() else None))
    port = _free_port()
    config = root / "nginx.conf"
    config.write_text(
        _CONFIG.format(
            user=getpass.getuser(),
            root=root,
            port=port,
            path=UPLOAD_PATH,
            store=store,
            answer=_ANSWER,
        ),
        encoding="utf-8",
    )
    log = root / "error.log"
    process = subprocess.Popen(
        [str(binary), "-p", str(root), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process, log)
        yield NginxUploadServer(f"http://127.0.0.1:{port}", store)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(store, ignore_errors=True)
