"""The relay benchmark's origin: a folder served over HTTP with Range, ETag and
Last-Modified (aiohttp's file response, sendfile), standing for the old platform's CDN.
Prints ``origin listening on http://127.0.0.1:PORT`` once ready; stops on SIGTERM.

    python benchmarks/origin_proc.py FOLDER
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from aiohttp import web


async def _serve(folder: Path) -> None:
    app = web.Application()
    app.router.add_static("/", folder, show_index=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server  # the bound port of a port-0 site
    assert server is not None and server.sockets
    port = server.sockets[0].getsockname()[1]
    print(f"origin listening on http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    """Serve FOLDER until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    asyncio.run(_serve(parser.parse_args().folder))


if __name__ == "__main__":
    main()
