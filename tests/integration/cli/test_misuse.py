# ruff: noqa: E501  (the table of cases reads best one case a line)
"""Bad input and misuse, as a new user meets them (issue 11): every case is a real
``vidlift`` subprocess on a copy of a library whose journal already holds done jobs.

Each case asserts the exit code (README: 0 / 1 / 2 / 130), that no traceback reaches the
user, that the output names the file, row, field or setting at fault, and that nothing
already done was lost: the done jobs keep their state and video keys (or, for a journal
the case damaged on purpose, the journal's bytes are left as they were).

One emulator (a ``vidlift serve`` subprocess) and one migrated library serve every case;
each case works on its own copy. The cases are listed in docs/SCENARIOS.md.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# ~80 cases, each a subprocess, are played once by the module fixture (on a busy machine
# that takes longer than one test is allowed).
pytestmark = pytest.mark.timeout(600)

API_KEY, API_SECRET = "demokey1", "demo-secret-not-for-production"
MANIFEST = "id,path,title\na,a.mp4,A\nb,b.mp4,B\n"
Setup = Callable[[Path], None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Library:
    """The migrated library every case copies, and the emulator it went to."""

    folder: Path
    endpoint: str
    done: frozenset[tuple[str, str, str]]  # (job id, state, video key) of the done jobs

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
        env.update(
            VIDLIFT_ENDPOINT=self.endpoint,
            VIDLIFT_API_KEY=API_KEY,
            VIDLIFT_API_SECRET=API_SECRET,
            VIDLIFT_BACKOFF_BASE_S="0.02",
            VIDLIFT_BACKOFF_MAX_S="0.2",
            PYTHONUNBUFFERED="1",
        )
        return env


def vidlift(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidlift", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def done_jobs(journal: Path) -> frozenset[tuple[str, str, str]]:
    """The done jobs of a journal, read without creating any file beside it."""
    uri = f"file:{journal}?mode=ro&immutable=1"
    with sqlite3.connect(uri, uri=True) as conn:
        rows = conn.execute("SELECT job_id, state, video_key FROM jobs WHERE state = 'done'")
        return frozenset((str(a), str(b), str(c)) for a, b, c in rows)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    root = tmp_path_factory.mktemp("misuse")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vidlift", "serve", "--port", str(port), "--quiet",
         "--data", str(root / "emu"), "--no-fsync"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert server.stdout is not None
    try:
        first = server.stdout.readline()  # printed once it listens
        assert "listening on" in first, first
        folder = root / "lib"
        folder.mkdir()
        (folder / "a.mp4").write_bytes(os.urandom(40_000))
        (folder / "b.mp4").write_bytes(os.urandom(30_000))
        (folder / "m.csv").write_text(MANIFEST)
        lib = Library(folder, f"http://127.0.0.1:{port}", frozenset())
        done = vidlift(["run", "m.csv", "--log-format", "json"], lib.env(), folder)
        assert done.returncode == 0, done.stderr
        jobs = done_jobs(folder / "m.csv.vidlift.sqlite")
        assert {job_id for job_id, _, _ in jobs} == {"a", "b"}
        yield Library(folder, lib.endpoint, jobs)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


# --- what cases do to their copy of the library -------------------------------------------


def write(name: str, content: str | bytes) -> Setup:
    def setup(lib: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (lib / name).write_bytes(data)

    return setup


def add_rows(rows: str) -> Setup:
    """m.csv keeps its rows and gets more."""
    return write("m.csv", MANIFEST + rows)


def both(*setups: Setup) -> Setup:
    def setup(lib: Path) -> None:
        for each in setups:
            each(lib)

    return setup


def make_file(name: str, size: int = 20_000) -> Setup:
    def setup(lib: Path) -> None:
        (lib / name).write_bytes(os.urandom(size))

    return setup


def make_dir(name: str) -> Setup:
    return lambda lib: (lib / name).mkdir()


def symlink(name: str, target: str) -> Setup:
    return lambda lib: (lib / name).symlink_to(target)


def sql(statement: str) -> Setup:
    """Change the journal behind vidlift's back."""

    def setup(lib: Path) -> None:
        with sqlite3.connect(lib / "m.csv.vidlift.sqlite") as conn:
            conn.execute(statement)
        conn.close()

    return setup


def replace_journal_with_dir(lib: Path) -> None:
    journal = lib / "m.csv.vidlift.sqlite"
    journal.unlink()
    journal.mkdir()


# --- the cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One misuse: ``args`` after ``vidlift`` ({lib}, {endpoint}, {port} filled in), run
    in the library's copy; the exit ``code``; texts the output ``says``. ``journal``:
    "kept" (the done jobs survive), "bytes" (the journal file is left byte for byte as
    the setup made it) or "none" (no journal to check)."""

    name: str
    args: tuple[str, ...]
    code: int
    says: tuple[str, ...]
    setup: Setup | None = None
    env: Mapping[str, str | None] = field(default_factory=dict)
    journal: str = "kept"
    xfail: str | None = None


RUN = ("run", "m.csv", "--log-format", "json")
FAST_GIVE_UP = {"VIDLIFT_MAX_ATTEMPTS": "2", "VIDLIFT_BACKOFF_MAX_S": "0.1"}
BAD_ROWS_FAIL_ALONE = 1  # a bad row fails alone: the run goes on, exit 1


CASES = [
    # The manifest.
    Case("manifest-empty-file", RUN, 2, ("m.csv", "empty"), write("m.csv", "")),
    Case("manifest-blank-lines", RUN, 2, ("m.csv", "the manifest is empty"), write("m.csv", "\n \n")),
    Case("manifest-header-only", RUN, 0, ("0 done",), write("m.csv", "id,path,title\n")),
    Case("manifest-no-path-column", RUN, 2, ("m.csv:1", "no `path` column"), write("m.csv", "id,title\na,A\n")),
    Case("manifest-column-twice-other-case", RUN, 2, ("m.csv:1", "'Title'"), write("m.csv", "id,path,title,Title\na,a.mp4,A,B\n")),
    Case("manifest-column-twice", RUN, 2, ("m.csv:1", "'path'"), write("m.csv", "id,path,path\na,a.mp4,a.mp4\n")),
    Case("manifest-missing", ("run", "nope.csv"), 2, ("nope.csv", "not found")),
    Case("manifest-is-a-directory", ("run", "folder.csv"), 2, ("folder.csv", "directory"), make_dir("folder.csv")),
    Case("manifest-unknown-extension", ("run", "m.txt"), 2, ("m.txt", "unknown manifest format"), write("m.txt", MANIFEST)),
    Case("manifest-not-utf8", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "UTF-8"), write("m.csv", MANIFEST.encode() + b"c,c.mp4,caf\xe9\n")),
    Case("manifest-utf16", RUN, 2, ("m.csv", "UTF-8"), write("m.csv", MANIFEST.encode("utf-16"))),
    Case("manifest-unclosed-quote", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "unclosed quote"), both(make_file("c.mp4"), add_rows('c,c.mp4,"never closed\n'))),
    Case("manifest-extra-cells", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "3 columns"), both(make_file("c.mp4"), add_rows("c,c.mp4,C,extra\n"))),
    Case("row-nul-in-path", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "not a valid file name"), add_rows("c,c\x00.mp4,C\n")),
    Case("jsonl-syntax-error", ("run", "m.jsonl"), BAD_ROWS_FAIL_ALONE, ("m.jsonl:2",), both(make_file("c.mp4"), write("m.jsonl", '{"id": "c", "path": "c.mp4"}\n{"id": "d", "path": \n'))),
    Case("jsonl-not-an-object", ("run", "m.jsonl"), BAD_ROWS_FAIL_ALONE, ("m.jsonl:1",), write("m.jsonl", '["a.mp4"]\n')),
    Case("row-missing-file", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "file not found"), add_rows("c,gone.mp4,C\n")),
    Case("row-directory-as-path", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "it is a directory"), both(make_dir("sub"), add_rows("c,sub,C\n"))),
    Case("row-empty-file", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "empty (0 bytes)"), both(make_file("c.mp4", 0), add_rows("c,c.mp4,C\n"))),
    Case("row-dangling-symlink", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "file not found"), both(symlink("c.mp4", "nowhere.mp4"), add_rows("c,c.mp4,C\n"))),
    Case("row-symlink-loop", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "symbolic link loop"), both(symlink("c.mp4", "c.mp4"), add_rows("c,c.mp4,C\n"))),
    Case("row-bad-date", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "date", "yesterday"), both(make_file("c.mp4"), write("m.csv", "id,path,date\na,a.mp4,\nb,b.mp4,\nc,c.mp4,yesterday\n"))),
    Case("row-bad-after-done", RUN, 0, ("m.csv:2", "date", "job a is done and stays as it was"), write("m.csv", "id,path,title,date\na,a.mp4,A,yesterday\nb,b.mp4,B,\n")),
    Case("row-duplicate-id", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "duplicate id 'a'", "m.csv:2"), add_rows("a,c.mp4,C\n")),
    Case("row-path-and-url", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:2", "both `path` and `download_url`"), write("m.csv", "id,path,download_url\nz,a.mp4,https://x.example/a.mp4\n")),
    Case("row-url-in-path", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:4", "a URL (s3://...), not a file path", "`download_url`"), add_rows("c,s3://bucket/c.mp4,C\n")),
    Case("row-ftp-url", RUN, BAD_ROWS_FAIL_ALONE, ("m.csv:2", "download_url", "ftp://"), write("m.csv", "id,download_url\nz,ftp://x.example/a.mp4\n")),
    Case("row-bad-with-strict", (*RUN, "--strict"), 2, ("m.csv:4", "file not found"), add_rows("c,gone.mp4,C\n")),
    Case("row-bad-with-strict-dry-run", (*RUN, "--strict", "--dry-run"), 2, ("m.csv:4", "file not found"), add_rows("c,gone.mp4,C\n")),
    Case("same-file-two-rows", RUN, 0, ("m.csv:3", "the same file as row m.csv:2", "skipped"), write("m.csv", "path,title\na.mp4,A\n./a.mp4,A2\n")),
    Case("same-file-symlink-and-absolute", RUN, 0, ("the same file as row m.csv:2",), both(symlink("l.mp4", "a.mp4"), add_rows("c,l.mp4,C\n"))),
    Case("enqueue-same-file-two-rows", ("enqueue", "m.csv", "--journal", "q.sqlite"), 0, ("m.csv:3", "the same file as row m.csv:2", "skipped", "2 rows, 1 new job, 0 bad rows"), write("m.csv", "path\na.mp4\n./a.mp4\n")),
    Case("worker-follow-on-sqlite", ("worker", "--journal", "q.sqlite", "--follow"), 2, ("--follow waits for jobs", "postgresql://", "one writer at a time")),
    Case("enqueue-manifest-missing", ("enqueue", "nope.csv", "--journal", "q.sqlite"), 2, ("nope.csv", "not found")),
    # Flags.
    Case("chunk-size-too-big", (*RUN, "--chunk-size", "10GiB"), 2, ("chunk size", "64MiB")),
    Case("chunk-size-one-byte", (*RUN, "--chunk-size", "1"), 2, ("chunk size", "64KiB")),
    Case("chunk-size-not-a-size", (*RUN, "--chunk-size", "huge"), 2, ("--chunk-size", "huge")),
    Case("bwlimit-one-byte", (*RUN, "--bwlimit", "1"), 2, ("bwlimit",)),
    Case("bwlimit-negative", (*RUN, "--bwlimit", "-5M"), 2, ("bwlimit",)),
    Case("concurrency-zero", (*RUN, "--concurrency", "0"), 2, ("concurrency",)),
    Case("concurrency-too-many", (*RUN, "--concurrency", "100000"), 2, ("setting concurrency (flag --concurrency): ", "1024")),
    Case("concurrency-word", (*RUN, "--concurrency", "lots"), 2, ("concurrency", "lots")),
    Case("max-attempts-zero", (*RUN, "--max-attempts", "0"), 2, ("max_attempts",)),
    Case("log-format-unknown", (*RUN[:2], "--log-format", "xml"), 2, ("--log-format", "xml")),
    Case("api-unknown", (*RUN, "--api", "v3"), 2, ("--api", "v3")),
    Case("api-v2-without-site-id", (*RUN, "--api", "v2"), 2, ("site",)),
    Case("api-v2-unknown-site", (*RUN, "--api", "v2", "--site-id", "nosuchsite"), 2, ("the batch stopped", "no site 'nosuchsite' there", "check --site-id"), both(make_file("new.mp4"), add_rows("new-1,new.mp4,New\n"))),
    Case("upload-v2-unknown-site", ("upload", "a.mp4", "--api", "v2", "--site-id", "nosuchsite"), 2, ("no site 'nosuchsite' there", "check --site-id", "--endpoint")),
    Case("parts-in-flight-zero", (*RUN, "--api", "v2", "--site-id", "s", "--parts-in-flight", "0"), 2, ("parts_in_flight",)),
    Case("metrics-port-out-of-range", (*RUN, "--metrics-port", "99999"), 2, ("metrics_port",)),
    Case("unknown-flag", (*RUN, "--frobnicate"), 2, ("--frobnicate",)),
    Case("journal-in-missing-folder", (*RUN, "--journal", "no/such/j.sqlite"), 2, ("no/such/j.sqlite", "folder")),
    Case("config-file-missing", (*RUN, "--config", "nope.toml"), 2, ("nope.toml",)),
    # The environment.
    Case("env-endpoint-empty", RUN, 2, ("endpoint is empty", "VIDLIFT_ENDPOINT"), env={"VIDLIFT_ENDPOINT": ""}),
    Case("env-chunk-size-word", RUN, 2, ("VIDLIFT_CHUNK_SIZE", "banana"), env={"VIDLIFT_CHUNK_SIZE": "banana"}),
    Case("env-concurrency-negative", RUN, 2, ("VIDLIFT_CONCURRENCY",), env={"VIDLIFT_CONCURRENCY": "-3"}),
    Case("env-max-attempts-word", RUN, 2, ("VIDLIFT_MAX_ATTEMPTS",), env={"VIDLIFT_MAX_ATTEMPTS": "many"}),
    Case("env-log-format-unknown", ("run", "m.csv"), 2, ("setting log_format (environment variable VIDLIFT_LOG_FORMAT)",), env={"VIDLIFT_LOG_FORMAT": "xml"}),
    Case("env-insecure-word", RUN, 2, ("setting insecure (environment variable VIDLIFT_INSECURE)",), env={"VIDLIFT_INSECURE": "maybe"}),
    Case("env-secret-missing", RUN, 2, ("VIDLIFT_API_SECRET",), env={"VIDLIFT_API_SECRET": None}),
    Case("env-unreachable-s-negative", RUN, 2, ("VIDLIFT_UNREACHABLE_S",), env={"VIDLIFT_UNREACHABLE_S": "-1"}),
    # The TOML settings file.
    Case("toml-syntax-error", (*RUN, "--config", "v.toml"), 2, ("v.toml", "line 2"), write("v.toml", "concurrency = 4\nchunk_size = \n")),
    Case("toml-unknown-key", (*RUN, "--config", "v.toml"), 2, ("v.toml", "concurency", "no such setting (did you mean 'concurrency'?)", "vidlift.example.toml"), write("v.toml", "concurency = 4\n")),
    Case("toml-unknown-table-key", (*RUN, "--config", "v.toml"), 2, ("sources.http.header (config file v.toml)", "did you mean 'headers'?"), write("v.toml", "[sources.http]\nheader = {}\n")),
    Case("toml-header-name-with-a-space", (*RUN, "--config", "v.toml"), 2, ("sources.http.headers (config file v.toml)", "'Bad Header' is not a valid name"), write("v.toml", '[sources.http]\nheaders = { "Bad Header" = "tok-93" }\n')),
    Case("toml-wrong-type", (*RUN, "--config", "v.toml"), 2, ("v.toml", "max_attempts"), write("v.toml", 'max_attempts = "twice"\n')),
    Case("toml-chunk-size-too-big", (*RUN, "--config", "v.toml"), 2, ("chunk_size",), write("v.toml", 'chunk_size = "10GiB"\n')),
    Case("toml-vidlift-not-a-table", (*RUN, "--config", "v.toml"), 2, ("v.toml", "[vidlift] must be a table"), write("v.toml", "vidlift = 3\n")),
    Case("toml-sources-out-of-bounds", (*RUN, "--config", "v.toml"), 2, ("sources.http.max_redirects (config file v.toml)",), write("v.toml", "[sources.http]\nmax_redirects = 99\n")),
    Case("toml-is-a-directory", (*RUN, "--config", "v.toml"), 2, ("v.toml",), make_dir("v.toml")),
    Case("toml-endpoint-ftp", (*RUN, "--config", "v.toml"), 2, ("endpoint", "ftp://"), write("v.toml", 'endpoint = "ftp://x.example"\n'), env={"VIDLIFT_ENDPOINT": None}),
    # The journal.
    Case("journal-corrupt-run", RUN, 2, ("m.csv.vidlift.sqlite", "corrupt"), write("m.csv.vidlift.sqlite", b"SQLite format 3\x00" + os.urandom(5000)), journal="bytes"),
    Case("journal-not-sqlite-status", ("status", "--journal", "m.csv.vidlift.sqlite"), 2, ("m.csv.vidlift.sqlite", "not a vidlift journal"), write("m.csv.vidlift.sqlite", b"hello, world\n" * 100), journal="bytes"),
    Case("journal-corrupt-report", ("report", "--journal", "m.csv.vidlift.sqlite"), 2, ("m.csv.vidlift.sqlite",), write("m.csv.vidlift.sqlite", b"hello, world\n" * 100), journal="bytes"),
    Case("journal-corrupt-retry", ("retry", "--failed", "--journal", "m.csv.vidlift.sqlite"), 2, ("m.csv.vidlift.sqlite",), write("m.csv.vidlift.sqlite", b"hello, world\n" * 100), journal="bytes"),
    Case("journal-unknown-state-status", ("status", "--journal", "m.csv.vidlift.sqlite"), 2, ("m.csv.vidlift.sqlite", "stuck"), sql("UPDATE jobs SET state = 'stuck' WHERE job_id = 'a'"), journal="bytes"),
    Case("journal-unknown-state-run", RUN, 2, ("m.csv.vidlift.sqlite", "stuck"), sql("UPDATE jobs SET state = 'stuck' WHERE job_id = 'a'"), journal="bytes"),
    Case("journal-unknown-state-report", ("report", "--journal", "m.csv.vidlift.sqlite"), 2, ("stuck",), sql("UPDATE jobs SET state = 'stuck' WHERE job_id = 'a'"), journal="bytes"),
    Case("journal-bad-metadata", RUN, 2, ("m.csv.vidlift.sqlite", "metadata"), sql("UPDATE jobs SET metadata = '{not json' WHERE job_id = 'b'"), journal="bytes"),
    Case("journal-newer-schema", RUN, 2, ("m.csv.vidlift.sqlite", "newer"), sql("UPDATE vidlift_schema SET version = 99"), journal="bytes"),
    Case("journal-is-a-directory", RUN, 2, ("m.csv.vidlift.sqlite",), replace_journal_with_dir, journal="none"),
    Case("journal-postgres-down", (*RUN, "--journal", "postgresql://vidlift@127.0.0.1:{port}/db"), 2, ("postgresql://vidlift@127.0.0.1:{port}/db", "cannot reach PostgreSQL")),
    Case("journal-missing-status", ("status", "--journal", "nope.sqlite"), 2, ("nope.sqlite", "no journal")),
    Case("journal-none-in-folder", ("status",), 2, ("no *.vidlift.sqlite",), lambda lib: (lib / "m.csv.vidlift.sqlite").rename(lib / "kept.db"), journal="none"),
    Case("journal-two-in-folder", ("report",), 2, ("several journals",), lambda lib: shutil.copy(lib / "m.csv.vidlift.sqlite", lib / "n.csv.vidlift.sqlite")),
    Case("retry-without-failed", ("retry", "--journal", "m.csv.vidlift.sqlite"), 2, ("--failed",)),
    Case("report-format-unknown", ("report", "--format", "xml"), 2, ("--format", "xml")),
    Case("report-output-missing-folder", ("report", "--output", "no/r.csv"), 2, ("--output no/r.csv", "create its folder")),
    Case("report-manifest-missing", ("report", "--manifest", "nope.csv"), 2, ("nope.csv", "not found")),
    Case("status-watch-negative", ("status", "--watch", "-1"), 2, ("--watch",)),
    # The endpoint.
    Case("endpoint-no-scheme", (*RUN, "--endpoint", "127.0.0.1:8080"), 2, ("127.0.0.1:8080", "http://")),
    Case("endpoint-ftp", (*RUN, "--endpoint", "ftp://127.0.0.1:21"), 2, ("ftp://127.0.0.1:21", "http://")),
    Case("endpoint-port-99999", (*RUN, "--endpoint", "http://127.0.0.1:99999"), 2, ("127.0.0.1:99999", "65535")),
    Case("endpoint-with-v1-path", (*RUN, "--endpoint", "{endpoint}/v1"), 2, ("the batch stopped", "{endpoint}/v1 answered 404 (no such API call): check --endpoint", "without /v1"), both(make_file("c.mp4"), add_rows("c,c.mp4,C\n"))),
    Case("upload-endpoint-with-v1-path", ("upload", "a.mp4", "--endpoint", "{endpoint}/v1"), 2, ("videos/create: {endpoint}/v1 answered 404", "check --endpoint")),
    Case("endpoint-down", (*RUN, "--endpoint", "http://127.0.0.1:{port}"), 2, ("could not be reached", "127.0.0.1:{port}", "every job is left as it was"), both(make_file("c.mp4"), add_rows("c,c.mp4,C\n")), env={"VIDLIFT_UNREACHABLE_S": "0.5"}),
    Case("wrong-secret", RUN, 2, ("SignatureInvalid", "VIDLIFT_API_SECRET"), both(make_file("c.mp4"), add_rows("c,c.mp4,C\n")), env={"VIDLIFT_API_SECRET": "wrong"}),
    # vidlift upload.
    Case("upload-missing-file", ("upload", "gone.mp4"), 1, ("gone.mp4", "file not found")),
    Case("upload-directory", ("upload", "sub"), 1, ("sub", "not a regular file"), make_dir("sub")),
    Case("upload-empty-file", ("upload", "e.mp4"), 1, ("e.mp4", "empty"), make_file("e.mp4", 0)),
    Case("upload-chunk-size-too-big", ("upload", "a.mp4", "--chunk-size", "10GiB"), 2, ("chunk size",)),
    Case("upload-endpoint-ftp", ("upload", "a.mp4", "--endpoint", "ftp://x.example"), 2, ("ftp://x.example",)),
    Case("upload-env-endpoint-empty", ("upload", "a.mp4"), 2, ("VIDLIFT_ENDPOINT",), env={"VIDLIFT_ENDPOINT": ""}),
    Case("upload-url-without-session", ("upload", "a.mp4", "--upload-url", "http://127.0.0.1:{port}/u"), 2, ("--session-id",)),
    Case("upload-url-ftp", ("upload", "a.mp4", "--upload-url", "ftp://x.example/u?token=t0k3n", "--session-id", "1"), 2, ("upload URL 'ftp://x.example/u'", "http://")),
    Case("upload-custom-without-equals", ("upload", "a.mp4", "--custom", "legacy"), 2, ("--custom", "name=value")),
    Case("upload-env-chunk-size-word", ("upload", "a.mp4"), 2, ("VIDLIFT_CHUNK_SIZE",), env={"VIDLIFT_CHUNK_SIZE": "banana"}),
    Case("upload-wrong-secret", ("upload", "a.mp4"), 2, ("SignatureInvalid", "VIDLIFT_API_SECRET"), env={"VIDLIFT_API_SECRET": "wrong"}),
    Case("upload-credentials-missing", ("upload", "a.mp4"), 2, ("VIDLIFT_API_KEY", "--api-key"), env={"VIDLIFT_API_KEY": None}),
    Case("upload-platform-down", ("upload", "a.mp4", "--endpoint", "http://127.0.0.1:{port}"), 1, ("cannot connect to 127.0.0.1:{port} (connection refused)", "the platform at http://127.0.0.1:{port}: check --endpoint"), env=FAST_GIVE_UP),
    Case("upload-host-unknown", ("upload", "a.mp4", "--endpoint", "http://no-such-host.invalid"), 1, ("cannot resolve the host name no-such-host.invalid", "check --endpoint"), env=FAST_GIVE_UP),
    Case("upload-url-server-down", ("upload", "a.mp4", "--upload-url", "http://127.0.0.1:{port}/u?token=t0k3n", "--session-id", "1"), 1, ("cannot connect to 127.0.0.1:{port} (connection refused)", "(http://127.0.0.1:{port}/u?…): check --upload-url"), env=FAST_GIVE_UP),
]  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What a case's command did, and its copy of the library."""

    done: subprocess.CompletedProcess[str]
    fill: dict[str, str]
    journal: Path
    journal_before: bytes


def play(case: Case, library: Library, folder: Path) -> Outcome:
    """Copy the library, apply the case, run its command."""
    lib = folder / case.name
    shutil.copytree(library.folder, lib, symlinks=True)
    if case.setup is not None:
        case.setup(lib)
    journal = lib / "m.csv.vidlift.sqlite"
    before = journal.read_bytes() if journal.is_file() else b""
    fill = {"lib": str(lib), "endpoint": library.endpoint, "port": str(free_port())}
    env = library.env()
    for name, value in case.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    done = vidlift([arg.format(**fill) for arg in case.args], env, lib)
    return Outcome(done, fill, journal, before)


@pytest.fixture(scope="module")
def outcomes(library: Library, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case, played a few at a time (each is a subprocess of its own: they wait on
    the emulator and on each other's start-up, not on shared state)."""
    folder = tmp_path_factory.mktemp("cases")
    with ThreadPoolExecutor(max_workers=4) as pool:
        played = pool.map(lambda case: (case.name, play(case, library, folder)), CASES)
        return dict(played)


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.name, marks=marks)


def test_the_cases_are_distinct() -> None:
    assert len({case.name for case in CASES}) == len(CASES) >= 40
    assert len({(case.args, case.setup, tuple(case.env.items())) for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_misuse_ends_clearly_and_loses_nothing(
    case: Case, library: Library, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[case.name]
    done = outcome.done
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == case.code, output
    for text in case.says:
        assert text.format(**outcome.fill) in output, (text, output)
    if case.code == 2:  # one line saying so: vidlift's own, or click's usage error
        said = ("vidlift: error:", "vidlift: the batch stopped:", "Error:")
        assert any(text in done.stderr for text in said), output
    assert API_SECRET not in output and "t0k3n" not in output  # no secret, no token
    if case.journal == "kept":
        assert done_jobs(outcome.journal) >= library.done, "done jobs were lost"
    elif case.journal == "bytes":
        assert outcome.journal.read_bytes() == outcome.journal_before, "the journal changed"


def test_a_journal_in_use_is_refused_and_left_alone(library: Library, tmp_path: Path) -> None:
    """A second writer: exit 2 naming the journal and the process holding it."""
    lib = tmp_path / "lib"
    shutil.copytree(library.folder, lib, symlinks=True)
    journal = lib / "m.csv.vidlift.sqlite"
    with (lib / "m.csv.vidlift.sqlite.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        done = vidlift(list(RUN), library.env(), lib)
    output = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in output, output
    assert f"journal {journal} is in use by another vidlift process (pid {os.getpid()})" in output
    assert done_jobs(journal) == library.done
