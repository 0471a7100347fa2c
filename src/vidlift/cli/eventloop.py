"""Which event loop ``vidlift run`` runs on (cli layer).

uvloop (libuv) costs less CPU per request than asyncio's own loop: measured on the small-
file workload, 22 % more files per second with the md5 on. But it has no
``loop.sendfile``, and zero-copy segment bodies (used when the md5 is off) need it: with
the md5 off, asyncio's loop is the faster one (benchmarks/RESULTS.md). ``auto`` picks by
that rule, and falls back to asyncio where uvloop is not installed (Windows).
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal

__all__ = ["EventLoop", "EventLoopChoice", "backend_options", "resolve_event_loop"]

EventLoopChoice = Literal["auto", "asyncio", "uvloop"]
EventLoop = Literal["asyncio", "uvloop"]


def _uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def resolve_event_loop(choice: EventLoopChoice, *, verify_md5: bool) -> EventLoop:
    """The loop to use. Raises nothing: an explicit ``uvloop`` that is missing is checked by
    :func:`backend_options`."""
    if choice == "auto":
        return "uvloop" if verify_md5 and _uvloop_installed() else "asyncio"
    return choice


def backend_options(choice: EventLoopChoice, *, verify_md5: bool) -> dict[str, Any]:
    """``anyio.run(..., backend_options=...)`` for the choice."""
    from vidlift.errors import ConfigError

    loop = resolve_event_loop(choice, verify_md5=verify_md5)
    if loop == "uvloop" and not _uvloop_installed():
        raise ConfigError("event_loop = uvloop, but uvloop is not installed: pip install uvloop")
    return {"use_uvloop": loop == "uvloop"}
