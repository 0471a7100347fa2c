"""Which event loop ``vidlift run`` runs on (cli layer): asyncio's own (the default) or
uvloop (``pip install 'vidlift[uvloop]'``).

asyncio's loop is the default because it has ``loop.sendfile``: segments of 2 MiB and more
go out zero-copy, which saves more CPU than uvloop does (8 MiB segments with the md5 on:
1.7 CPU s/GB on asyncio, 2.1 on uvloop). uvloop sends every body by copying; it helped
small files a little (256 KiB, md5 on: -1 to +13 % files/s). benchmarks/RESULTS.md.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal

from vidlift.errors import ConfigError

__all__ = ["EventLoop", "backend_options"]

EventLoop = Literal["asyncio", "uvloop"]


def _uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def backend_options(loop: EventLoop) -> dict[str, Any]:
    """``anyio.run(..., backend_options=...)`` for the choice. Raises ConfigError for
    uvloop when it is not installed."""
    if loop == "uvloop" and not _uvloop_installed():
        raise ConfigError(
            "event_loop = uvloop, but uvloop is not installed: pip install 'vidlift[uvloop]'"
        )
    return {"use_uvloop": loop == "uvloop"}
