"""Running a check as an unprivileged user, for permission tests that root would pass.

As root, a forked child drops to ``nobody`` (no exec: the interpreter may live where
nobody cannot read it) and sends back the text its action returned; as anyone else the
action runs in place. Files it touches must sit in :func:`shared_folder`.
"""

import contextlib
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

NOBODY = 65534


@contextlib.contextmanager
def shared_folder() -> Iterator[Path]:
    """A temporary folder that an unprivileged user can enter (pytest's are private)."""
    folder = Path(tempfile.mkdtemp(prefix="vidlift-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for child in folder.rglob("*"):
            if child.is_dir() and not child.is_symlink():
                child.chmod(0o755)
        shutil.rmtree(folder)


def run_unprivileged(action: Callable[[], str]) -> str:
    """The text ``action`` returns, run as ``nobody`` when this process is root."""
    if os.geteuid() != 0:
        return action()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write_fd, action().encode())
            status = 0
        except BaseException:
            os.write(write_fd, traceback.format_exc().encode())
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        output = pipe.read().decode()
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0, output
    return output
