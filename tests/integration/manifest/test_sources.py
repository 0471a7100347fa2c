"""Source files that are not plain readable files, on a real file system."""

import os
import socket
from pathlib import Path

from tests.integration.manifest.unprivileged import run_unprivileged, shared_folder
from vidlift.manifest import ManifestEntry, ManifestProblem, iter_manifest


def _reasons(manifest: Path) -> list[tuple[str, str]]:
    return [
        (r.location, r.reason if isinstance(r, ManifestProblem) else "ok")
        for r in iter_manifest(manifest)
    ]


def test_fifo_symlinks_and_sockets(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"a" * 10)
    os.mkfifo(tmp_path / "pipe.mp4")  # opening it would block: it must never be opened
    (tmp_path / "loop1.mp4").symlink_to(tmp_path / "loop2.mp4")
    (tmp_path / "loop2.mp4").symlink_to(tmp_path / "loop1.mp4")
    (tmp_path / "dangling.mp4").symlink_to(tmp_path / "gone.mp4")
    (tmp_path / "link.mp4").symlink_to(tmp_path / "a.mp4")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock.mp4"))
        (tmp_path / "m.csv").write_text(
            "path\npipe.mp4\nloop1.mp4\ndangling.mp4\nsock.mp4\na.mp4/x.mp4\nlink.mp4\n/dev/null\n"
        )
        reasons = _reasons(tmp_path / "m.csv")
    assert reasons == [
        ("m.csv:2", "not a regular file: it is a named pipe (FIFO)"),
        ("m.csv:3", "symbolic link loop (too many levels of symbolic links)"),
        ("m.csv:4", "file not found"),
        ("m.csv:5", "not a regular file: it is a socket"),
        ("m.csv:6", "file not found (a part of the path is not a folder)"),
        ("m.csv:7", "ok"),
        ("m.csv:8", "not a regular file: it is a device"),
    ]


def _read_as_nobody(manifest: Path) -> str:
    return repr(_reasons(manifest))


def test_files_without_permission() -> None:
    with shared_folder() as folder:
        (folder / "a.mp4").write_bytes(b"a" * 10)
        (folder / "secret.mp4").write_bytes(b"s" * 10)
        (folder / "secret.mp4").chmod(0o000)
        (folder / "closed").mkdir()
        (folder / "closed" / "b.mp4").write_bytes(b"b" * 10)
        (folder / "closed").chmod(0o600)  # no x: its files cannot be reached
        manifest = folder / "m.csv"
        manifest.write_text("path\nsecret.mp4\nclosed/b.mp4\na.mp4\n")
        manifest.chmod(0o644)
        reasons = run_unprivileged(lambda: _read_as_nobody(manifest))
    assert reasons == repr(
        [
            ("m.csv:2", "no read permission"),
            ("m.csv:3", "permission denied on a folder of the path"),
            ("m.csv:4", "ok"),
        ]
    )


def test_the_batch_goes_on_after_each_bad_file(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"a" * 10)
    os.mkfifo(tmp_path / "pipe.mp4")
    rows = "".join(f"pipe.mp4,p{n}\na.mp4,a{n}\n" for n in range(50))
    (tmp_path / "m.csv").write_text("path,id\n" + rows)
    results = list(iter_manifest(tmp_path / "m.csv"))
    assert [type(r) for r in results] == [ManifestProblem, ManifestEntry] * 50
