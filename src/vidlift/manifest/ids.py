"""Job ids: how a manifest row is named across runs, and duplicate detection (manifest layer).

A job id names one manifest row in the journal, run after run, so that running the same
manifest again resumes instead of starting over.

- With an ``id`` column (or JSON key), the id is used as written, after stripping the
  surrounding blanks. It must be at most 200 characters, all printable (no tabs or line
  breaks).
- Else, with an ``external_id`` (JW's v2 template), that is the id, by the same rules.
- A row naming its source with ``download_url`` and without either: ``"u-"`` + the first
  16 hex digits of the SHA-256 of the URL without its query string, fragment and user
  (:func:`public_source_url`): a signed URL whose signature is renewed keeps its job.
- Without one (or with a blank cell), the id is derived from the row's ``path`` as
  written: ``"p-"`` + the first 16 hex digits of the SHA-256 of the path, normalized.
  A relative path is normalized lexically relative to the manifest's folder
  (``os.path.normpath``, POSIX separators: ``./a.mp4``, ``a.mp4`` and ``x/../a.mp4``
  are the same job), so the manifest and its library can move together to another
  folder or machine and keep their ids. An absolute path is normalized the same way and
  kept absolute. Symbolic links are not resolved. Two rows naming the same file the
  same way are duplicates; give them ``id`` values to upload a file twice.

Duplicate detection keeps an 8-byte BLAKE2b digest of every id seen, in an open-addressing
hash table held in ``array``s with the line of each (32 bytes per id at most, ~32 MB for a
million rows); the files rows name are tracked the same way (by device and inode). Two
different ids share a digest with a probability of about n^2 / 2^64 (3e-8 for a million
rows); the cost of such a collision is one row reported as a duplicate.
"""

from __future__ import annotations

import hashlib
import posixpath
from array import array
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "FirstLines",
    "MAX_JOB_ID_CHARS",
    "SeenIds",
    "check_job_id",
    "derive_job_id",
    "derive_url_job_id",
    "public_source_url",
    "read_job_id",
]

MAX_JOB_ID_CHARS = 200
_DERIVED_PREFIX = "p-"
_URL_PREFIX = "u-"
_DERIVED_HEX_DIGITS = 16


def derive_job_id(path_as_written: str) -> str:
    """Derive the stable job id of a row without an ``id`` (see the module docstring)."""
    normalized = posixpath.normpath(path_as_written)
    digest = hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()
    return _DERIVED_PREFIX + digest[:_DERIVED_HEX_DIGITS]


def public_source_url(url: str) -> str:
    """``scheme://host[:port]/path`` of a source URL: no user or password, query string
    (often a signature) or fragment; scheme and host in lower case. What journals,
    reports and messages show of a URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal: keep what follows the user part
        parts, port = urlsplit(url.strip().split("?", 1)[0].split("#", 1)[0]), None
        host = parts.netloc.rpartition("@")[2].lower()
        return urlunsplit((parts.scheme.lower(), host, parts.path, "", ""))
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, "", ""))


def derive_url_job_id(url: str) -> str:
    """The job id of a ``download_url`` row without ``id`` or ``external_id``."""
    digest = hashlib.sha256(public_source_url(url).encode("utf-8", "surrogatepass"))
    return _URL_PREFIX + digest.hexdigest()[:_DERIVED_HEX_DIGITS]


def check_job_id(job_id: str) -> str:
    """Return ``job_id`` if it is a valid user-given id; raise ValueError saying why not."""
    if not job_id:
        raise ValueError("id is empty")
    if len(job_id) > MAX_JOB_ID_CHARS:
        raise ValueError(f"id is longer than {MAX_JOB_ID_CHARS} characters ({len(job_id)})")
    if not job_id.isprintable():
        raise ValueError("id contains a tab, line break or other control character")
    return job_id


def read_job_id(value: object) -> str | None:
    """Read an ``id`` value as written: None when absent or blank, else a checked id.

    JSON Lines integers are accepted (``{"id": 1234}`` is ``"1234"``). Raises ValueError.
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("id must be text or a whole number")
    stripped = value.strip()
    return check_job_id(stripped) if stripped else None


class FirstLines:
    """A memory-bounded map from keys (job ids, file identities) to the line where each
    was first seen: 8-byte digests in a linear-probing hash table, the lines in a
    parallel array (32 bytes per key at most).

    ``claim`` answers the earlier line of a key seen before, else None. False positives
    are possible at the rate given in the module docstring; false negatives are not.
    """

    __slots__ = ("_count", "_lines", "_mask", "_slots")

    def __init__(self, capacity: int = 1024) -> None:
        size = 1
        while size < capacity * 2:
            size *= 2
        self._slots = array("Q", bytes(8 * size))
        self._lines = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def claim(self, key: str, line: int) -> int | None:
        """Remember that ``key`` was seen at ``line``; return the line of an earlier
        claim of it (or of a key with the same digest), else None."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8)
        code = int.from_bytes(digest.digest(), "little") | 1  # 0 marks an empty slot
        earlier = self._insert(code, line)
        if earlier is not None:
            return earlier
        self._count += 1
        if self._count * 2 > len(self._slots):
            self._grow()
        return None

    def __contains__(self, key: str) -> bool:
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8)
        code = int.from_bytes(digest.digest(), "little") | 1
        slots, mask = self._slots, self._mask
        index = (code >> 1) & mask
        while slots[index]:
            if slots[index] == code:
                return True
            index = (index + 1) & mask
        return False

    def _insert(self, code: int, line: int) -> int | None:
        slots, mask = self._slots, self._mask
        index = (code >> 1) & mask
        while True:
            current = slots[index]
            if current == 0:
                slots[index] = code
                self._lines[index] = line
                return None
            if current == code:
                return self._lines[index]
            index = (index + 1) & mask

    def _grow(self) -> None:
        old_slots, old_lines = self._slots, self._lines
        self._slots = array("Q", bytes(16 * len(old_slots)))
        self._lines = array("Q", bytes(16 * len(old_slots)))
        self._mask = len(self._slots) - 1
        for code, line in zip(old_slots, old_lines, strict=True):
            if code:
                self._insert(code, line)


class SeenIds(FirstLines):
    """A memory-bounded set of job ids (:class:`FirstLines` without the lines).

    ``add`` answers whether the id was new.
    """

    __slots__ = ()

    def add(self, job_id: str) -> bool:
        """Remember ``job_id``; return False if it (or an id with the same digest) was seen."""
        return self.claim(job_id, 0) is None
