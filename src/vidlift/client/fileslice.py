"""Zero-copy segment bodies: a slice of a file sent with ``loop.sendfile`` (client layer).

On plain HTTP the kernel copies the file's pages straight to the socket: no read into
Python, no copy per piece. Measured in benchmarks/RESULTS.md: client CPU per GB falls by
more than half. Used only when nothing needs the bytes in Python (no md5 being computed,
no bandwidth throttle) and the URL is ``http://`` (over TLS asyncio would fall back to
reading the file anyway). Each transport sends a slice with :func:`send_file_slice`
once it has written the request's head.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from vidlift.config import READ_PIECE_BYTES
from vidlift.errors import ConnectionDropped

__all__ = ["FileSlice", "loop_can_sendfile", "send_file_slice"]

_COPY_PIECE_BYTES = READ_PIECE_BYTES


@dataclass(frozen=True, slots=True)
class FileSlice:
    """``length`` bytes of the open file ``fd`` from ``offset``."""

    fd: int
    offset: int
    length: int
    on_sent: Callable[[int], None] | None = None


def loop_can_sendfile() -> bool:
    """True when the running event loop implements ``loop.sendfile`` (asyncio's does;
    uvloop's inherits the abstract method, which raises NotImplementedError)."""
    loop_type = type(asyncio.get_running_loop())
    return getattr(loop_type, "sendfile", None) is not asyncio.AbstractEventLoop.sendfile


async def send_file_slice(
    transport: asyncio.WriteTransport,
    piece: FileSlice,
    write: Callable[[bytes], Awaitable[None]],
) -> int:
    """Send ``piece`` on ``transport`` (the request's head already written and drained):
    ``loop.sendfile``, or ``write`` 1 MiB at a time where the loop has no sendfile.

    Returns the bytes sent. Raises ConnectionDropped when the file is shorter than the
    slice (the request, whose Content-Length promised more, must be abandoned)."""
    # The descriptor is shared with the reader, which only uses pread: the file
    # position that sendfile moves is never relied on. closefd=False: not ours.
    try:
        with io.FileIO(piece.fd, "rb", closefd=False) as source:
            sent = await asyncio.get_running_loop().sendfile(
                transport, source, piece.offset, piece.length, fallback=True
            )
    except NotImplementedError:  # event loops without sendfile (uvloop): copy
        sent = await _copy(write, piece)
    if piece.on_sent is not None:
        piece.on_sent(sent)
    if sent < piece.length:
        raise ConnectionDropped(f"the source file ended {piece.length - sent} bytes early")
    return sent


async def _copy(write: Callable[[bytes], Awaitable[None]], piece: FileSlice) -> int:
    """Send the slice through Python, 1 MiB at a time (reads in a worker thread)."""
    sent, end = 0, piece.length
    while sent < end:
        size = min(_COPY_PIECE_BYTES, end - sent)
        data = await anyio.to_thread.run_sync(os.pread, piece.fd, size, piece.offset + sent)
        if not data:
            break
        await write(data)
        sent += len(data)
    return sent
