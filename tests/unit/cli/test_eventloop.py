"""`vidlift run --event-loop`: asyncio by default, uvloop when asked and installed."""

from __future__ import annotations

import pytest

from vidlift.cli import eventloop
from vidlift.cli.eventloop import backend_options
from vidlift.cli.settings import RunConfig
from vidlift.errors import ConfigError


def test_asyncio_is_the_default_and_uvloop_a_choice() -> None:
    assert RunConfig().event_loop == "asyncio"
    assert backend_options("asyncio") == {"use_uvloop": False}
    assert backend_options("uvloop") == {"use_uvloop": True}  # installed here (dev extra)


def test_uvloop_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventloop, "_uvloop_installed", lambda: False)  # as on Windows
    assert backend_options("asyncio") == {"use_uvloop": False}
    with pytest.raises(ConfigError, match=r"pip install 'vidlift\[uvloop\]'"):
        backend_options("uvloop")
