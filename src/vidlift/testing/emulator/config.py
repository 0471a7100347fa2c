"""Settings of the platform emulator: :class:`EmulatorConfig`, :class:`FaultPlan` and the
TOML loader of fault plans (part of the public test kit, :mod:`vidlift.testing`).

Both are frozen value objects; nothing here touches the network. Every fault is off by
default. The keys of a fault plan file are exactly the field names of :class:`FaultPlan`
(see docs/EMULATOR.md and configs/emulator/*.toml).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vidlift.errors import ConfigError

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_SITE_ID",
    "UPLOAD_PATH",
    "EmulatorConfig",
    "FaultPlan",
    "fault_plan_from_mapping",
    "load_fault_plan",
]

DEFAULT_API_KEY = "demokey1"
DEFAULT_API_SECRET = "demo-secret-not-for-production"  # a published demo value, not a secret
DEFAULT_SITE_ID = "demosite"
UPLOAD_PATH = "/v1/videos/upload/resumable"  # the seed's link/path

_PROBABILITIES = (
    "drop_mid_segment_p",
    "lost_ack_p",
    "upload_503_p",
    "api_429_p",
    "api_500_p",
    "api_nonce_reused_p",
    "slow_answer_p",
    "truncated_answer_p",
    "lose_segment_p",
    "forget_completed",
    "part_drop_p",
    "part_lost_answer_p",
    "part_500_p",
    "part_503_p",
    "part_expired_p",
    "v2_create_lost_answer_p",
    "v2_list_lost_answer_p",
    "v2_complete_lost_answer_p",
    "v2_api_429_p",
    "v2_processing_failed_p",
    "processing_failed_p",
)
_DURATIONS = ("latency_ms", "latency_jitter_ms", "slow_answer_ms")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which faults the emulator injects, and how often (all off by default).

    Probabilities are per request (per segment for the upload faults, per API call for the
    API faults, per part or direct PUT for ``part_*``, per v2 call for ``v2_*``). ``seed``
    seeds the one random generator, so a sequential client sees the
    same faults on every run. ``forget_completed`` accepts a bool (True = always).
    """

    seed: int = 0
    drop_mid_segment_p: float = 0.0
    lost_ack_p: float = 0.0
    upload_503_p: float = 0.0
    api_429_p: float = 0.0
    api_500_p: float = 0.0
    api_nonce_reused_p: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    slow_answer_p: float = 0.0
    slow_answer_ms: float = 0.0
    truncated_answer_p: float = 0.0
    lose_segment_p: float = 0.0
    forget_completed: float = 0.0
    bandwidth_bytes_per_s: int | None = None
    part_drop_p: float = 0.0
    part_lost_answer_p: float = 0.0
    part_500_p: float = 0.0
    part_503_p: float = 0.0
    part_expired_p: float = 0.0
    v2_create_lost_answer_p: float = 0.0
    v2_list_lost_answer_p: float = 0.0  # a media listing is answered by a closed connection
    v2_complete_lost_answer_p: float = 0.0
    v2_api_429_p: float = 0.0
    v2_processing_failed_p: float = 0.0
    processing_failed_p: float = 0.0  # v1: a completed video's processing fails

    def __post_init__(self) -> None:
        if isinstance(self.forget_completed, bool):
            object.__setattr__(self, "forget_completed", 1.0 if self.forget_completed else 0.0)
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a probability in [0, 1], not {value!r}")
        for name in _DURATIONS:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value < math.inf):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        bandwidth = self.bandwidth_bytes_per_s
        if bandwidth is not None and (not isinstance(bandwidth, int) or bandwidth <= 0):
            raise ValueError(f"bandwidth_bytes_per_s must be a positive integer, not {bandwidth!r}")

    @property
    def active(self) -> bool:
        """True when at least one fault can fire."""
        return self != FaultPlan(seed=self.seed)


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything an :class:`~vidlift.testing.emulator.Emulator` needs to start.

    ``data_dir=None`` gives a temporary directory owned (and deleted) by the emulator;
    ``port=0`` an ephemeral port. ``fsync=False`` trades durability for speed
    (benchmarks); ``discard=True`` keeps no file bytes of in-order segments, only sizes and
    checksums (docs/EMULATOR.md, "Discard mode"); ``checksums=False`` skips md5/sha256
    (show then reports none). ``redirect_with_3xx=True`` answers a final segment that
    carries ``redirect_address`` with 303 and a Location header.

    v2 (docs/EMULATOR.md, "v2"): ``site_id`` is the only site served; part and direct
    upload links expire ``link_ttl_s`` after they were issued; a completed media stays
    ``processing`` for ``processing_s``, then turns ``ready`` (``failed`` when its file is
    under ``min_media_bytes``: the emulator's stand-in for "shorter than 2 seconds").
    A completed v1 video reads ``processing`` for ``v1_processing_s`` (0: ready at once).
    ``v2_reset_header=False``: v2 answers state the quota in ``JW-Request-*`` headers only,
    with no reset time, as the real platform's do.
    """

    data_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = DEFAULT_API_KEY
    api_secret: str = field(default=DEFAULT_API_SECRET, repr=False)
    public_url: str | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    api_calls_per_minute: int | None = None
    api_window_s: float = 60.0  # the quota's "minute" (shorter: the same shape, faster)
    max_concurrent_segments_per_session: int = 4
    max_segment_bytes: int = 64 * 1024 * 1024
    timestamp_window_s: float = 300.0
    fsync: bool = True
    discard: bool = False
    checksums: bool = True
    redirect_with_3xx: bool = False
    site_id: str = DEFAULT_SITE_ID
    link_ttl_s: float = 3600.0
    processing_s: float = 0.05
    min_media_bytes: int = 1024
    v1_processing_s: float = 0.0
    v2_reset_header: bool = True  # X-RateLimit-* (with the reset) beside JW-Request-*

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_secret:
            raise ValueError("api_key and api_secret must not be empty")
        if not self.site_id or not self.site_id.isalnum():
            raise ValueError(f"site_id must be non-empty alphanumerics, not {self.site_id!r}")
        if self.v1_processing_s < 0:
            raise ValueError("v1_processing_s must be >= 0")
        if self.link_ttl_s <= 0 or self.processing_s < 0 or self.min_media_bytes < 0:
            raise ValueError("link_ttl_s must be positive; processing_s, min_media_bytes >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {self.port}")
        if self.api_calls_per_minute is not None and self.api_calls_per_minute <= 0:
            raise ValueError("api_calls_per_minute must be positive (or None: unlimited)")
        if self.api_window_s <= 0:
            raise ValueError("api_window_s must be positive")
        if self.max_concurrent_segments_per_session <= 0 or self.max_segment_bytes <= 0:
            raise ValueError("segment limits must be positive")
        if self.timestamp_window_s <= 0:
            raise ValueError("timestamp_window_s must be positive")


def fault_plan_from_mapping(
    values: Mapping[str, object], *, origin: str = "fault plan"
) -> FaultPlan:
    """Build a :class:`FaultPlan` from plain values (a parsed TOML table, CLI overrides).

    Raises :class:`~vidlift.errors.ConfigError` naming the bad key.
    """
    known = {f.name for f in dataclasses.fields(FaultPlan)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    try:
        return FaultPlan(**values)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: {exc}") from exc


def load_fault_plan(path: Path | str) -> FaultPlan:
    """Read a fault plan TOML file (top-level keys, or a ``[faults]`` table).

    Raises :class:`~vidlift.errors.ConfigError` when the file is missing, is not TOML, or
    holds an unknown key or a bad value.
    """
    source = Path(path)
    try:
        with source.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the fault plan: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    table = document.get("faults", document)
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [faults] must be a table")
    return fault_plan_from_mapping(table, origin=str(source))
