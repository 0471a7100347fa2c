"""`vidlift run`'s event loop: uvloop where it wins (md5 on), asyncio where sendfile wins."""

from __future__ import annotations

import pytest

from vidlift.cli import eventloop
from vidlift.cli.eventloop import backend_options, resolve_event_loop
from vidlift.errors import ConfigError


def test_auto_picks_uvloop_with_md5_and_asyncio_without() -> None:
    assert resolve_event_loop("auto", verify_md5=True) == "uvloop"  # installed here
    assert resolve_event_loop("auto", verify_md5=False) == "asyncio"
    assert backend_options("auto", verify_md5=True) == {"use_uvloop": True}
    assert backend_options("auto", verify_md5=False) == {"use_uvloop": False}


def test_an_explicit_choice_wins() -> None:
    assert resolve_event_loop("asyncio", verify_md5=True) == "asyncio"
    assert resolve_event_loop("uvloop", verify_md5=False) == "uvloop"


def test_without_uvloop_auto_falls_back_and_an_explicit_uvloop_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(eventloop, "_uvloop_installed", lambda: False)  # as on Windows
    assert backend_options("auto", verify_md5=True) == {"use_uvloop": False}
    with pytest.raises(ConfigError, match="pip install uvloop"):
        backend_options("uvloop", verify_md5=True)
