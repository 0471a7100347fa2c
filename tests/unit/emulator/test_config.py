"""Settings objects: validation, defaults, the secret kept out of reprs, the quota."""

from __future__ import annotations

import pytest

from vidlift.testing.emulator import EmulatorConfig, FaultPlan
from vidlift.testing.emulator.quota import UNLIMITED, Quota


def test_defaults() -> None:
    config = EmulatorConfig()
    assert (config.api_key, config.api_secret) == ("demokey1", "demo-secret-not-for-production")
    assert (config.host, config.port, config.max_segment_bytes) == (
        "127.0.0.1",
        0,
        64 * 1024 * 1024,
    )
    assert not config.faults.active
    assert "demo-secret" not in repr(config)


@pytest.mark.parametrize(
    "kwargs",
    [{"lost_ack_p": 1.5}, {"api_429_p": -0.1}, {"latency_ms": -1.0}, {"bandwidth_bytes_per_s": 0}],
)
def test_fault_plan_refuses_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FaultPlan(**kwargs)  # type: ignore[arg-type]


def test_forget_completed_accepts_a_bool() -> None:
    assert FaultPlan(forget_completed=True).forget_completed == 1.0
    assert FaultPlan(forget_completed=False).forget_completed == 0.0


def test_config_refuses_empty_credentials() -> None:
    with pytest.raises(ValueError, match="api_key"):
        EmulatorConfig(api_secret="")


def test_quota_windows() -> None:
    quota = Quota(2)
    first = quota.take("k", now=100.0)
    assert first is not None and (first.limit, first.remaining, first.reset) == (2, 1, 160)
    assert quota.take("k", now=101.0) is not None
    assert quota.take("k", now=102.0) is None
    assert quota.peek("k", now=102.0).remaining == 0
    assert quota.take("k", now=160.0) is not None  # a new window
    assert Quota(None).peek("x", now=0.0).limit == UNLIMITED
