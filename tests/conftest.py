"""Settings for the whole test session."""

from __future__ import annotations

import signal

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C tests send SIGINT to vidlift subprocesses. A shell that starts a command in
    the background (``make test &``, some CI runners) starts it with SIGINT ignored, and
    children inherit an ignored signal: Python would then leave SIGINT ignored in them and
    those tests would test nothing. Give the session Python's own handler, which exec does
    not pass on (children start with the default action, as in a terminal)."""
    del config
    signal.signal(signal.SIGINT, signal.default_int_handler)
