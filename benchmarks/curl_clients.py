"""The curl baselines: the same protocol spoken by curl, one process per file.

- keep-alive: one POST per segment, chained with ``next`` in one curl process, so every
  segment of a file goes over one keep-alive connection; N files are N curl processes at
  once. curl cannot send a byte range of a file, so each file is split beforehand into
  segment files (not measured), and curl streams each with ``upload-file``.
- whole file (the upper bound): one POST of the whole file as a single segment.

curl cannot sign API calls: the sessions are created beforehand by the naive client's
``create_video`` (Python, not measured). ``Expect: 100-continue`` is turned off, as
vidlift does not send it either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from baselines.naive_client import Created, create_video
from harness import Measured, run_group


@dataclass(frozen=True, slots=True)
class Segment:
    """One byte range of a file, stored as a file of its own."""

    path: Path
    start: int
    end: int  # inclusive


def split_file(source: Path, folder: Path, chunk_bytes: int) -> list[Segment]:
    """Split ``source`` into segment files under ``folder`` (kept when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    total = source.stat().st_size
    segments = []
    with source.open("rb") as handle:
        for number, start in enumerate(range(0, total, chunk_bytes)):
            length = min(chunk_bytes, total - start)
            path = folder / f"p{number:05d}"
            if not (path.exists() and path.stat().st_size == length):
                handle.seek(start)
                path.write_bytes(handle.read(length))
            segments.append(Segment(path, start, start + length - 1))
    return segments


def _request(created: Created, segment: Segment, total: int, name: str) -> list[str]:
    return [
        f'url = "{created.upload_url}"',
        'request = "POST"',
        f'header = "X-Session-ID: {created.session_id}"',
        f'header = "X-Content-Range: bytes {segment.start}-{segment.end}/{total}"',
        f'header = "Content-Disposition: attachment; filename=\\"{name}\\""',
        'header = "Content-Type: application/octet-stream"',
        'header = "Expect:"',
        f'upload-file = "{segment.path}"',
        'output = "/dev/null"',
        "silent",
        'write-out = "%{http_code} %{num_connects}\\n"',
    ]


def write_config(path: Path, created: Created, segments: Sequence[Segment], name: str) -> Path:
    """A curl config file chaining one POST per segment with ``next``."""
    total = segments[-1].end + 1
    lines: list[str] = []
    for segment in segments:
        if lines:
            lines.append("next")
        lines.extend(_request(created, segment, total, name))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True, slots=True)
class CurlRun:
    """What a group of curl processes cost, and whether every file completed."""

    measured: Measured
    ok: bool
    connections: int
    detail: str


def run_curl(
    endpoint: str,
    files: Sequence[Path],
    segments: Sequence[Sequence[Segment]],
    work: Path,
) -> CurlRun:
    """Create a session per file, then run one curl per file at once (measured)."""
    configs = []
    for number, (file, parts) in enumerate(zip(files, segments, strict=True)):
        created = create_video(endpoint, file.stem)
        configs.append(write_config(work / f"curl-{number}.conf", created, parts, file.name))
    measured, outputs = run_group([["curl", "-K", str(config)] for config in configs], work)
    ok, connections, detail = True, 0, ""
    for output, parts in zip(outputs, segments, strict=True):
        lines = [line.split() for line in output.split("\n") if line.strip()]
        codes = [line[0] for line in lines]
        connections += sum(int(line[1]) for line in lines)
        expected = ["201"] * (len(parts) - 1) + ["200"]
        if codes != expected:
            ok, detail = False, f"curl answers {codes[:5]}..., expected {expected[:5]}..."
    return CurlRun(measured, ok and measured.returncode == 0, connections, detail)
