"""The chaos harness: a real `vidlift run` against a faulty `vidlift serve` that is killed
and restarted, and a client that may be killed with -9 too; then every file is checked.
The same scenarios run on JW's v1 and v2 APIs (``ChaosPlan.api``): only the faults, the
file sizes and where the platform keeps the files differ (:class:`ChaosApi`).

Shared by tests/integration/reliability/test_chaos.py (bounded, in `make test`) and
benchmarks/soak.py (minutes to hours). Both processes are real subprocesses: the emulator
listens on a fixed port and keeps its state in one ``--data`` folder, so the client can
reconnect to each new incarnation. Emulator counters live in memory and die with the
process, so they are sampled while it runs and right before each kill, then summed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from anyio.abc import ByteReceiveStream, Process

from vidlift.testing.emulator import FaultPlan
from vidlift.testing.library import write_sample_library

KiB = 1024
MARKER = "vidlift_job_id"  # the custom parameter vidlift puts on every video it creates
LISTENING = "vidlift emulator listening on "

# Sizes chosen not to fall on segment boundaries (16 KiB .. 600 KiB).
CHAOS_SIZES = (16 * KiB, 37 * KiB + 5, 100 * KiB + 1, 250 * KiB - 3, 411 * KiB, 600 * KiB)

# Every fault a network or upload server inflicts, at once. lose_segment_p stays 0: a
# server that loses acknowledged bytes is caught by verification (a failed job), not
# survived; tests/unit/protocol and test_faults.py cover it.
CHAOS_FAULTS = FaultPlan(
    drop_mid_segment_p=0.06,
    lost_ack_p=0.06,
    upload_503_p=0.05,
    api_429_p=0.02,
    api_500_p=0.02,
    latency_ms=1.0,
    latency_jitter_ms=10.0,
    slow_answer_p=0.02,
    slow_answer_ms=600.0,
    truncated_answer_p=0.02,
    forget_completed=0.5,
)
# v2: every part and direct PUT, API and completion fault at once. Sizes: a direct upload
# (one PUT), files of 2 and 3 parts of 5 MiB (the last one short).
MiB = 1024 * KiB
V2_CHAOS_SIZES = (200 * KiB + 7, 6 * MiB + 3, 11 * MiB + 1)
V2_CHAOS_FAULTS = FaultPlan(
    part_drop_p=0.08,
    part_lost_answer_p=0.08,
    part_503_p=0.05,
    part_500_p=0.02,
    part_expired_p=0.03,
    v2_create_lost_answer_p=0.1,
    v2_complete_lost_answer_p=0.2,
    v2_api_429_p=0.02,
    latency_ms=1.0,
    latency_jitter_ms=10.0,
)
V2_FAULT_KINDS = ("part_drop", "part_lost_answer", "part_503", "v2_complete_lost_answer")
ALL_FAULT_KINDS = (
    "drop_mid_segment",
    "lost_ack",
    "upload_503",
    "api_429",
    "api_500",
    "latency",
    "slow_answer",
    "truncated_answer",
    "forget_completed",
)


@dataclass(frozen=True, slots=True)
class ChaosPlan:
    """One chaos batch: the library, the faults, what gets killed and how often."""

    files: int = 200
    sizes: tuple[int, ...] = CHAOS_SIZES
    chunk_bytes: int = 64 * KiB
    concurrency: int = 8
    faults: FaultPlan = CHAOS_FAULTS
    restart_emulator_every_s: float | None = 8.0
    # Kill -9 the client after a random number of files done in this span (plus up to
    # 0.3 s, so that the moment falls anywhere in the files then in flight).
    kill_client_after_done: tuple[int, int] | None = None
    max_client_kills: int = 0
    max_attempts: int = 40
    backoff_base_s: float = 0.05
    backoff_max_s: float = 1.0
    deadline_s: float = 110.0
    seed: int = 1
    emulator_fsync: bool = True
    api: str = "v1"  # or "v2": the same scenario on JW's v2 API (--api v2)
    # Re-sent bytes allowed, in % of the library: what a cut request costs is a 64 KiB
    # segment on v1, up to a 5 MiB part on v2 (a kill -9 cuts every part in flight).
    max_resent_pct: float = 25.0


def v2_plan(**changes: Any) -> ChaosPlan:
    """A chaos plan on v2: its faults, sizes that make direct and multipart uploads, parts
    of 5 MiB."""
    base = ChaosPlan(
        api="v2",
        concurrency=4,
        sizes=V2_CHAOS_SIZES,
        faults=V2_CHAOS_FAULTS,
        chunk_bytes=5 * MiB,
        max_resent_pct=75.0,
    )
    return replace(base, **changes)


@dataclass(frozen=True, slots=True)
class ChaosApi:
    """What differs between v1 and v2 when checking a chaos batch."""

    name: str

    @property
    def client_args(self) -> list[str]:
        """`vidlift run` flags for this API (the emulator's default site id)."""
        if self.name == "v2":
            return ["--api", "v2", "--site-id", "demosite", "--parts-in-flight", "2"]
        return []

    @property
    def upload_counter(self) -> str:
        """The emulator's counter of requests carrying file bytes."""
        return "part" if self.name == "v2" else "segment"

    def videos(self, stats: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The platform's videos as (key, marker, status, size, md5, sha256 or None)."""
        if self.name == "v2":
            return [
                {**media, "marker": media.get("external_id") or "", "sha256": None}
                for media in stats.get("media", [])
            ]
        return [
            {**video, "marker": str(video["custom"].get(MARKER, ""))} for video in stats["videos"]
        ]

    def stored(self, data_dir: Path, key: str) -> Path:
        """Where the emulator keeps a completed video's bytes."""
        if self.name == "v2":
            return data_dir / "v2" / "files" / f"{key}.bin"
        return data_dir / "media" / f"{key}.bin"


@dataclass(slots=True)
class ChaosFigures:
    """What a chaos batch did and what the platform ended up holding."""

    files: int = 0
    bytes_total: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    emulator_restarts: int = 0
    client_runs: int = 0
    client_kills: int = 0
    files_done: int = 0
    files_identical: int = 0
    videos_total: int = 0
    duplicate_videos: int = 0
    bytes_received: int = 0
    segments: int = 0
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def bytes_resent(self) -> int:
        """Upload bytes the server read beyond one copy of every file."""
        return max(0, self.bytes_received - self.bytes_total)

    @property
    def resent_pct(self) -> float:
        return 100.0 * self.bytes_resent / self.bytes_total if self.bytes_total else 0.0

    @property
    def done_pct(self) -> float:
        return 100.0 * self.files_done / self.files if self.files else 100.0

    @property
    def identical_pct(self) -> float:
        return 100.0 * self.files_identical / self.files if self.files else 100.0

    def add(self, other: ChaosFigures) -> None:
        """Fold another batch's figures into these (soak rounds)."""
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if isinstance(mine, dict):
                setattr(self, item.name, dict(Counter(mine) + Counter(theirs)))
            else:
                setattr(self, item.name, mine + theirs)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able figures, derived percentages included."""
        data = asdict(self)
        data.update(
            bytes_resent=self.bytes_resent,
            resent_pct=round(self.resent_pct, 2),
            done_pct=round(self.done_pct, 2),
            identical_pct=round(self.identical_pct, 2),
            elapsed_s=round(self.elapsed_s, 1),
        )
        return data

    def table(self) -> str:
        """The figures as an aligned text table."""
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        rows = [
            ("files", f"{self.files}"),
            ("bytes", f"{self.bytes_total:,} ({self.bytes_total / 1024 / 1024:.1f} MiB)"),
            ("faults injected", f"{sum(self.faults.values())}: {faults}"),
            ("emulator kill -9 + restart", f"{self.emulator_restarts}"),
            ("client runs / kill -9", f"{self.client_runs} / {self.client_kills}"),
            ("files completed", f"{self.files_done} ({self.done_pct:.1f}%)"),
            ("files byte-identical", f"{self.files_identical} ({self.identical_pct:.1f}%)"),
            ("videos on the platform", f"{self.videos_total}"),
            ("duplicate videos", f"{self.duplicate_videos}"),
            ("upload requests", f"{self.segments}"),
            ("bytes re-sent", f"{self.bytes_resent:,} ({self.resent_pct:.1f}% of the total)"),
            ("wall time", f"{self.elapsed_s:.1f} s"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines += [f"problem: {problem}" for problem in self.problems]
        return "\n".join(lines)


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1 (kept for every emulator incarnation)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def fault_plan_toml(plan: FaultPlan) -> str:
    """A fault plan as the TOML file `vidlift serve --faults` reads."""
    lines = []
    for item in fields(plan):
        value = getattr(plan, item.name)
        if value is not None:
            lines.append(f"{item.name} = {value!r}")
    return "\n".join(lines) + "\n"


async def _read_line(stream: ByteReceiveStream) -> str:
    buffer = b""
    while b"\n" not in buffer:
        buffer += await stream.receive()
    return buffer.split(b"\n", 1)[0].decode()


class StatsLedger:
    """Counters of every emulator incarnation: the last sample of each, summed."""

    def __init__(self) -> None:
        self._closed: list[Mapping[str, Any]] = []
        self._current: Mapping[str, Any] | None = None

    def observe(self, stats: Mapping[str, Any]) -> None:
        self._current = stats

    def close_incarnation(self) -> None:
        if self._current is not None:
            self._closed.append(self._current)
        self._current = None

    def total(self, section: str) -> Counter[str]:
        counts: Counter[str] = Counter()
        for stats in [*self._closed, *([self._current] if self._current else [])]:
            counts.update({k: int(v) for k, v in stats.get(section, {}).items()})
        return counts


class EmulatorProcess:
    """`vidlift serve` on a fixed port and data folder, killed and restarted at will."""

    def __init__(self, *, port: int, data_dir: Path, faults_file: Path, fsync: bool) -> None:
        self.port = port
        self.data_dir = data_dir
        self.faults_file = faults_file
        self.fsync = fsync
        self.endpoint = f"http://127.0.0.1:{port}"
        self.ledger = StatsLedger()
        self.incarnations = 0
        self._process: Process | None = None
        self._lock = anyio.Lock()
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Start an incarnation (a new fault seed each time) and wait for its banner."""
        self.incarnations += 1
        command = [
            sys.executable, "-m", "vidlift", "serve", "--port", str(self.port),
            "--data", str(self.data_dir), "--faults", str(self.faults_file),
            "--seed", str(self.incarnations), "--quiet",
            # An injected 429 says "wait for the window's end", and both clients' pacers
            # do: a 5-second window keeps that wait short.
            "--api-window-s", "5",
        ]  # fmt: skip
        if not self.fsync:
            command.append("--no-fsync")
        log = (self.data_dir.parent / "emulator-stderr.log").open("ab")
        try:
            process = await anyio.open_process(command, stderr=log)
        finally:
            log.close()
        self._process = process
        assert process.stdout is not None
        with anyio.fail_after(30):
            banner = await _read_line(process.stdout)
        if banner != f"{LISTENING}{self.endpoint}":
            raise AssertionError(f"unexpected first line from vidlift serve: {banner!r}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stats(self) -> Mapping[str, Any]:
        """GET /_emulator/stats (never faulted, never delayed)."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._http.get(f"{self.endpoint}/_emulator/stats") as response:
            response.raise_for_status()
            document: Mapping[str, Any] = await response.json()
            return document

    async def sample(self) -> None:
        """Record the current incarnation's counters (if it answers)."""
        async with self._lock:
            if self._process is None or self._process.returncode is not None:
                return
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                self.ledger.observe(await self.stats())

    async def kill(self) -> None:
        """Take a last sample, then kill -9 (an incarnation's counters die with it)."""
        async with self._lock:
            process, self._process = self._process, None
            if process is None:
                return
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                self.ledger.observe(await self.stats())
            process.kill()
            await process.wait()
            await process.aclose()
            self.ledger.close_incarnation()

    async def stop(self) -> None:
        """A final sample and kill; close the stats session."""
        await self.kill()
        if self._http is not None:
            await self._http.close()
            self._http = None


@dataclass(slots=True)
class ClientRun:
    """One `vidlift run` process."""

    kill_after_done: int | None = None
    code: int | None = None
    events: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    stderr: str = ""
    kill_time: anyio.Event = field(default_factory=anyio.Event)

    @property
    def killed(self) -> bool:
        return self.code == -9


async def _collect_events(stream: ByteReceiveStream, run: ClientRun) -> None:
    buffer = b""
    async for chunk in stream:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            event = json.loads(line)
            run.events[event["event"]] += 1
            if event["event"] == "job_failed":
                run.failures.append(f"{event['job_id']}: {event['error']}")
            if run.kill_after_done is not None and run.events["job_done"] >= run.kill_after_done:
                run.kill_time.set()


async def _collect_text(stream: ByteReceiveStream, parts: list[bytes]) -> None:
    async for chunk in stream:
        parts.append(chunk)


async def _kill_when_told(process: Process, run: ClientRun, delay_s: float) -> None:
    await run.kill_time.wait()
    await anyio.sleep(delay_s)  # a random instant among the segments in flight, on purpose
    if process.returncode is None:
        process.kill()


async def run_client(
    command: list[str],
    env: Mapping[str, str],
    kill_after_done: int | None = None,
    kill_delay_s: float = 0.0,
) -> ClientRun:
    """Run `vidlift run ...` to its end, or kill -9 it ``kill_delay_s`` after its
    ``kill_after_done``-th finished file."""
    run = ClientRun(kill_after_done)
    errors: list[bytes] = []
    async with await anyio.open_process(command, env=dict(env)) as process:
        assert process.stdout is not None and process.stderr is not None
        async with anyio.create_task_group() as group:
            group.start_soon(_collect_events, process.stdout, run)
            group.start_soon(_collect_text, process.stderr, errors)
            if kill_after_done is not None:
                group.start_soon(_kill_when_told, process, run, kill_delay_s)
            run.code = await process.wait()
            group.cancel_scope.cancel()
    run.stderr = b"".join(errors).decode(errors="replace")
    return run


def client_env(endpoint: str, plan: ChaosPlan) -> dict[str, str]:
    """The environment of a `vidlift run`: the emulator's credentials (v1 and v2: the same
    secret) and fast backoff."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    env.update(
        VIDLIFT_ENDPOINT=endpoint,
        VIDLIFT_API_KEY="demokey1",
        VIDLIFT_API_SECRET="demo-secret-not-for-production",  # the emulator's demo value
        VIDLIFT_BACKOFF_BASE_S=str(plan.backoff_base_s),
        VIDLIFT_BACKOFF_MAX_S=str(plan.backoff_max_s),
        PYTHONUNBUFFERED="1",
    )
    return env


def _file_digests(path: Path) -> tuple[int, str, str]:
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            md5.update(block)
            sha256.update(block)
    return path.stat().st_size, md5.hexdigest(), sha256.hexdigest()


class ChaosRun:
    """Drives one chaos batch in ``workdir``; :meth:`run` returns its figures."""

    def __init__(self, plan: ChaosPlan, workdir: Path, log: Callable[[str], None]) -> None:
        self.plan = plan
        self.workdir = workdir
        self.log = log
        self.rng = random.Random(plan.seed)
        self.figures = ChaosFigures(files=plan.files)
        self.api = ChaosApi(plan.api)
        self.manifest = workdir / "lib" / "library.csv"
        self.journal = workdir / "lib" / "library.csv.vidlift.sqlite"
        faults_file = workdir / "faults.toml"
        self.emulator = EmulatorProcess(
            port=free_port(),
            data_dir=workdir / "emu",
            faults_file=faults_file,
            fsync=plan.emulator_fsync,
        )

    def _prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "emu").mkdir(exist_ok=True)
        self.emulator.faults_file.write_text(fault_plan_toml(self.plan.faults))
        write_sample_library(
            self.manifest.parent, self.plan.files, sizes=self.plan.sizes, seed=self.plan.seed
        )

    async def run(self) -> ChaosFigures:
        """Run the batch under chaos until it ends, then verify the platform's files."""
        started = time.monotonic()
        await anyio.to_thread.run_sync(self._prepare)
        try:
            with anyio.fail_after(self.plan.deadline_s):
                await self.emulator.start()
                async with anyio.create_task_group() as group:
                    group.start_soon(self._sample_forever)
                    if self.plan.restart_emulator_every_s:
                        group.start_soon(self._restart_forever, self.plan.restart_emulator_every_s)
                    await self._drive_client()
                    group.cancel_scope.cancel()
                await self._verify()
        finally:
            with anyio.CancelScope(shield=True):
                await self.emulator.stop()
        self._count_emulator()
        self.figures.elapsed_s = time.monotonic() - started
        return self.figures

    async def _sample_forever(self) -> None:
        while True:
            await self.emulator.sample()
            await anyio.sleep(0.5)  # a sampling period, not a wait for a condition

    async def _restart_forever(self, every_s: float) -> None:
        while True:
            await anyio.sleep(every_s)  # the chaos schedule
            with anyio.CancelScope(shield=True):  # never leave the emulator half-started
                await self.emulator.kill()
                self.figures.emulator_restarts += 1
                await self.emulator.start()

    async def _drive_client(self) -> None:
        plan = self.plan
        command = [
            sys.executable, "-m", "vidlift", "run", str(self.manifest),
            "--log-format", "json", "--chunk-size", str(plan.chunk_bytes),
            "--concurrency", str(plan.concurrency), "--max-attempts", str(plan.max_attempts),
            *self.api.client_args,
        ]  # fmt: skip
        env = client_env(self.emulator.endpoint, plan)
        while True:
            kill_after = None
            if plan.kill_client_after_done and self.figures.client_kills < plan.max_client_kills:
                kill_after = self.rng.randint(*plan.kill_client_after_done)
            run = await run_client(command, env, kill_after, self.rng.uniform(0.0, 0.3))
            self.figures.client_runs += 1
            self.figures.problems.extend(run.failures)
            if run.killed:
                self.figures.client_kills += 1
                self.log(f"client killed -9 after {kill_after} files done: {dict(run.events)}")
                continue
            self.log(f"client exited {run.code}: {dict(run.events)}")
            if run.code not in (0, 1) or "Traceback" in run.stderr:
                raise AssertionError(f"vidlift run exited {run.code}:\n{run.stderr[-3000:]}")
            return

    async def _report(self) -> list[dict[str, Any]]:
        command = [
            sys.executable, "-m", "vidlift", "report", "--journal", str(self.journal),
            "--format", "json",
        ]  # fmt: skip
        env = client_env(self.emulator.endpoint, self.plan)
        result = await anyio.run_process(command, env=env, check=False)
        assert result.returncode == 0, result.stderr.decode()
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        return rows

    async def _verify(self) -> None:
        """Compare every source file with what the platform holds for its job."""
        if not self.emulator.running:  # killed by the restart loop as it was cancelled
            await self.emulator.start()
        await self.emulator.sample()
        videos = self.api.videos(await self.emulator.stats())
        rows = await self._report()
        sources = {
            f"legacy-{n:03d}": self.manifest.parent / "videos" / f"clip-{n:03d}.mp4"
            for n in range(1, self.plan.files + 1)
        }
        digests = {
            job: await anyio.to_thread.run_sync(_file_digests, path)
            for job, path in sources.items()
        }
        figures = self.figures
        figures.bytes_total = sum(size for size, _, _ in digests.values())
        figures.videos_total = len(videos)
        by_job: dict[str, list[Mapping[str, Any]]] = {}
        for video in videos:
            by_job.setdefault(video["marker"], []).append(video)
        figures.duplicate_videos = sum(len(v) - 1 for v in by_job.values()) + len(
            by_job.get("", [])
        )
        done = {row["id"]: row for row in rows if row["state"] == "done"}
        figures.files_done = sum(1 for job in sources if job in done)
        for job, (size, md5, sha256) in digests.items():
            found = by_job.get(job, [])
            expected = (size, md5, sha256 if self.api.name == "v1" else None)
            if await self._identical(job, found, done.get(job), expected):
                figures.files_identical += 1

    async def _identical(
        self,
        job: str,
        found: list[Mapping[str, Any]],
        row: Mapping[str, Any] | None,
        digests: tuple[int, str, str | None],
    ) -> bool:
        if len(found) != 1:
            self.figures.problems.append(f"{job}: {len(found)} videos on the platform")
            return False
        video = found[0]
        facts = (video["size"], video["md5"], video["sha256"])
        if video["status"] != "ready" or facts != digests:
            self.figures.problems.append(f"{job}: platform has {video['status']} {facts}")
            return False
        if row is None or row["video_key"] != video["key"]:
            self.figures.problems.append(f"{job}: report row {row} does not name {video['key']}")
            return False
        stored = self.api.stored(self.emulator.data_dir, video["key"])
        source = self.manifest.parent / "videos" / f"clip-{job.split('-')[1]}.mp4"
        same = await anyio.to_thread.run_sync(_same_bytes, stored, source)
        if not same:
            self.figures.problems.append(f"{job}: stored bytes differ from {source}")
        return same

    def _count_emulator(self) -> None:
        ledger = self.emulator.ledger
        self.figures.faults = dict(ledger.total("faults"))
        requests = ledger.total("requests")
        self.figures.bytes_received = requests["bytes_received"]
        self.figures.segments = requests[self.api.upload_counter]


def _same_bytes(a: Path, b: Path) -> bool:
    if not a.is_file() or a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as left, b.open("rb") as right:
        while True:
            block = left.read(1024 * 1024)
            if block != right.read(1024 * 1024):
                return False
            if not block:
                return True


async def run_chaos(
    plan: ChaosPlan, workdir: Path, log: Callable[[str], None] = print
) -> ChaosFigures:
    """Run one chaos batch in ``workdir`` and return its figures."""
    return await ChaosRun(plan, workdir, log).run()
