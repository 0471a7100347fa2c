"""Where ``vidlift upload`` keeps a single upload's state between runs (cli layer).

One small JSON file per (file, endpoint, API key) under ``$XDG_STATE_HOME/vidlift/uploads``
(default ``~/.local/state``), readable by its owner only: it holds the upload URL. It is
written when the upload opens and as the platform acknowledges bytes, so that the same
command after a Ctrl-C, a crash or ``kill -9`` continues the same upload into the same
video; it is removed once the upload is verified.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from vidlift.errors import ConfigError
from vidlift.jobs.upload_state import UploadState

__all__ = ["KeptUploadState", "state_path"]


def state_path(source: Path, endpoint: str, api_key: str) -> Path:
    """The state file of an upload of ``source`` to ``endpoint`` with ``api_key``."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    key = f"{source.resolve()}\n{endpoint}\n{api_key}".encode("utf-8", "surrogateescape")
    return base / "vidlift" / "uploads" / f"{hashlib.sha256(key).hexdigest()[:24]}.json"


class KeptUploadState(UploadState):
    """An :class:`UploadState` that writes itself to a file at every change."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    @classmethod
    def load(cls, path: Path) -> KeptUploadState:
        """The state kept in ``path``, or a fresh one when there is none.

        Raises ConfigError naming the file when it cannot be read.
        """
        kept = cls(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return kept
        except OSError as exc:
            reason = exc.strerror
            raise ConfigError(f"{path}: cannot read the kept upload state: {reason}") from None
        try:
            state = UploadState.from_json(text)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}; delete it to start a new upload") from None
        for name in UploadState.__slots__:
            setattr(kept, name, getattr(state, name))
        return kept

    def save(self) -> None:
        """Write the state (owner-only, replaced atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_suffix(".tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.to_json())
        os.replace(partial, self.path)

    def forget(self) -> None:
        """The upload is done: nothing to keep."""
        self.path.unlink(missing_ok=True)

    async def mark_creating(self, job_id: str) -> None:
        """Kept before the create call: a lost answer is then looked up, not re-created."""
        await super().mark_creating(job_id)
        self.save()

    async def record_created(
        self, job_id: str, *, video_key: str, upload_url: str, session_id: str
    ) -> None:
        """Kept: the upload is open."""
        await super().record_created(
            job_id, video_key=video_key, upload_url=upload_url, session_id=session_id
        )
        self.save()

    async def record_progress(self, job_id: str, acked_ranges: Sequence[tuple[int, int]]) -> None:
        """Kept: the platform acknowledged more."""
        await super().record_progress(job_id, acked_ranges)
        self.save()
