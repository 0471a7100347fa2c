"""Source file checks for manifest rows: is this a readable, non-empty regular file?
(manifest layer).

Only metadata calls are made (``stat``, ``access``): a file is never opened here, so a
named pipe (FIFO) or a device cannot block the reader.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SourceFacts", "inspect_source"]


@dataclass(frozen=True, slots=True)
class SourceFacts:
    """What ``stat`` said about a usable source file. ``identity`` (device and inode,
    links followed) tells two paths naming the same file apart from two files."""

    size_bytes: int
    mtime_ns: int
    identity: str = ""


_STAT_ERRORS = {
    errno.ENOENT: "file not found",
    errno.ENOTDIR: "file not found (a part of the path is not a folder)",
    errno.ELOOP: "symbolic link loop (too many levels of symbolic links)",
    errno.EACCES: "permission denied on a folder of the path",
    errno.ENAMETOOLONG: "path is too long",
}


def inspect_source(path: Path) -> SourceFacts | str:
    """Check that ``path`` is a readable, non-empty regular file.

    Returns its size and mtime, or the reason it cannot be uploaded (user-facing text).
    Symbolic links are followed (a link to a video is fine; a dangling one is not found).
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        known = _STAT_ERRORS.get(exc.errno or 0)
        return known or f"cannot read the file's information: {exc.strerror or exc}"
    except ValueError:  # e.g. an embedded NUL character
        return "path is not a valid file name"
    kind = _non_regular_kind(info.st_mode)
    if kind:
        return f"not a regular file: it is {kind}"
    if not os.access(path, os.R_OK):
        return "no read permission"
    if info.st_size == 0:
        return "file is empty (0 bytes)"
    return SourceFacts(info.st_size, info.st_mtime_ns, f"{info.st_dev}:{info.st_ino}")


def _non_regular_kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"
