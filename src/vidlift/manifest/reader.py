"""Reading a manifest: rows in, :class:`ManifestEntry` or :class:`ManifestProblem` out
(manifest layer).

:func:`iter_manifest` streams a CSV or JSON Lines manifest (chosen by extension; see
:mod:`vidlift.manifest.formats`). Every row gives exactly one result; a bad row is a
:class:`ManifestProblem` with ``file:line`` and the reason, and reading goes on. Only a
manifest that cannot be read at all raises :class:`~vidlift.errors.ManifestError`.

Checks on each row, in order: the row could be read (UTF-8, CSV quoting, JSON), its id
(:mod:`vidlift.manifest.ids`; a duplicate id of this manifest is a problem), its fields
(:class:`ManifestRow`), its source: a ``path`` or a ``download_url`` (exactly one), and
for a path the file (:func:`vidlift.manifest.sources.inspect_source`: found, regular,
readable, not empty). Relative paths are relative to the manifest's folder. A URL is not
fetched here: the job inspects it when it starts.

Memory: one row at a time plus the duplicate-id table (16 bytes per row at most).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from pydantic import ValidationError

from vidlift.errors import ManifestError
from vidlift.manifest.formats import RawRow, read_csv_rows, read_jsonl_rows
from vidlift.manifest.ids import FirstLines, derive_job_id, derive_url_job_id, read_job_id
from vidlift.manifest.rows import (
    ManifestEntry,
    ManifestProblem,
    ManifestRow,
    describe_validation_error,
)
from vidlift.manifest.sources import inspect_source

__all__ = ["MANIFEST_FORMATS", "iter_manifest"]

_RowReader = Callable[[Path, str], Iterator[RawRow]]

MANIFEST_FORMATS: Mapping[str, _RowReader] = {
    ".csv": read_csv_rows,
    ".jsonl": read_jsonl_rows,
    ".ndjson": read_jsonl_rows,
}

_SAME_FILE = "the same file"

MISSING_SOURCE_REASON = (
    "missing source: the row names no file (`path`) nor URL (`download_url`: "
    "http://, https:// or s3://); give one"
)


def iter_manifest(
    path: Path, *, strict: bool = False, allow_duplicate_files: bool = False
) -> Iterator[ManifestEntry | ManifestProblem]:
    """Stream the results of a manifest, one per row (plus header-level problems).

    With ``strict=True`` the first problem (warnings included) raises
    :class:`ManifestError` instead. Rows naming a file an earlier row names: see
    :class:`_RowJudge` (``allow_duplicate_files`` uploads it once per row).
    Raises :class:`ManifestError` at once for an unknown extension or a manifest that is
    missing or not a readable regular file, and while iterating for a fatal format error
    (see :mod:`vidlift.manifest.formats`).
    """
    manifest = Path(path).absolute()
    read_rows = MANIFEST_FORMATS.get(manifest.suffix.lower())
    if read_rows is None:
        known = ", ".join(MANIFEST_FORMATS)
        raise ManifestError(
            manifest.name, f"unknown manifest format {manifest.suffix!r}: use one of {known}"
        )
    reason = inspect_source(manifest)
    if isinstance(reason, str):
        raise ManifestError(str(manifest), f"cannot read the manifest: {reason}")
    if _undecodable(str(manifest)):  # its paths could not be stored or shown as text
        shown = str(manifest).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise ManifestError(shown, "the manifest's path is not valid UTF-8: rename its folders")
    judge = _RowJudge(manifest, allow_duplicate_files=allow_duplicate_files)
    return _iter_results(manifest, read_rows, judge, strict=strict)


def _iter_results(
    manifest: Path, read_rows: _RowReader, judge: _RowJudge, *, strict: bool
) -> Iterator[ManifestEntry | ManifestProblem]:
    try:
        rows = read_rows(manifest, manifest.name)
        for raw in rows:
            result = judge.judge(raw)
            if strict and isinstance(result, ManifestProblem):
                raise ManifestError(result.location, result.reason)
            yield result
    except OSError as exc:
        raise ManifestError(str(manifest), f"cannot read the manifest: {exc}") from exc


class _RowJudge:
    """Turns raw rows into results; remembers the ids and files seen (for duplicates).

    A row whose file an earlier row names (``a.mp4``, ``./a.mp4``, its absolute path, a
    symbolic or hard link to it: the same device and inode) is uploaded once per row only
    when asked: both rows have ``id`` (or ``external_id``) values, or
    ``allow_duplicate_files``; the row then carries a ``notice`` naming the earlier row.
    Otherwise it is skipped: a warning (``ManifestProblem.warning``) naming both rows,
    never a failed job. Rows that write the same path (normalized) have the same derived
    id: they can only be one job, so the later one is skipped whatever the flag.
    """

    def __init__(self, manifest: Path, *, allow_duplicate_files: bool = False) -> None:
        self._folder = manifest.parent
        self._name = manifest.name
        self._seen = FirstLines()  # job id -> its row's line
        self._files = FirstLines()  # device:inode -> 2 x line + (1 if the row had an id)
        self._allow_duplicate_files = allow_duplicate_files

    def judge(self, raw: RawRow) -> ManifestEntry | ManifestProblem:
        location = f"{self._name}:{raw.line}"
        if raw.header_level:  # its own id: the same line may also hold a row (JSON Lines)
            reason = raw.problem or ""
            return ManifestProblem(location, f"<{location} columns>", None, reason, warning=True)
        if raw.fields is None:
            return ManifestProblem(location, f"<{location}>", None, raw.problem or "unreadable")
        written_path = _text_or_none(raw.fields.get("path"))
        written_url = _text_or_none(raw.fields.get("download_url"))
        source = self._folder / written_path if written_path else None
        job_id, id_problem, given = self._claim_job_id(
            raw.fields, raw.line, written_path, written_url
        )
        if id_problem is not None and id_problem.startswith(_SAME_FILE):
            return ManifestProblem(location, f"<{location}>", source, id_problem, warning=True)
        outcome = _validate(raw, id_problem)
        if isinstance(outcome, str):
            return ManifestProblem(location, job_id or f"<{location}>", source, outcome)
        if job_id is None or (source is None and outcome.download_url is None):
            return ManifestProblem(location, job_id or f"<{location}>", None, MISSING_SOURCE_REASON)
        size_bytes = mtime_ns = 0
        if source is not None:
            facts = inspect_source(source)
            if isinstance(facts, str):
                return ManifestProblem(location, job_id, source, facts)
            size_bytes, mtime_ns = facts.size_bytes, facts.mtime_ns
            notice, skip = self._claim_file(facts.identity, raw.line, given=given)
            if skip:
                return ManifestProblem(location, job_id, source, notice, warning=True)
        else:
            notice = ""
        return ManifestEntry(
            job_id=job_id,
            path=source,
            size_bytes=size_bytes,
            mtime_ns=mtime_ns,
            title=outcome.title,
            description=outcome.description,
            tags=outcome.tags,
            date=outcome.publish_date,
            link=outcome.page_link,
            custom=outcome.custom,
            location=location,
            source_url=outcome.download_url,
            thumbnail_url=outcome.thumbnail_download_url,
            notice=notice,
        )

    def _claim_file(self, identity: str, line: int, *, given: bool) -> tuple[str, bool]:
        """The notice for a row whose file an earlier row names ("" otherwise), and
        whether the row is skipped."""
        earlier = self._files.claim(identity, 2 * line + int(given))
        if earlier is None:
            return "", False
        earlier_line, earlier_given = divmod(earlier, 2)
        where = f"{_SAME_FILE} as row {self._name}:{earlier_line}"
        if self._allow_duplicate_files or (given and earlier_given):
            why = "--allow-duplicate-files" if self._allow_duplicate_files else "distinct ids"
            return f"{where}: uploaded once per row, as asked ({why})", False
        return (
            f"{where}: this row is skipped (give both rows `id` values, or pass "
            "--allow-duplicate-files, to upload the file once per row)"
        ), True

    def _claim_job_id(
        self,
        fields: Mapping[str, object],
        line: int,
        written_path: str | None,
        written_url: str | None,
    ) -> tuple[str | None, str | None, bool]:
        """The row's job id, why it cannot have one (or None), and whether the id was
        given (not derived). Claims it as seen.

        ``id``, else ``external_id``, else derived from the path, else from the URL.
        """
        given, name = None, "id"
        for name in ("id", "external_id"):
            raw_id = fields.get(name)
            if isinstance(raw_id, str) and _undecodable(raw_id):
                return None, None, False  # reported as text that is not UTF-8
            try:
                given = read_job_id(raw_id)
            except ValueError as exc:
                return None, f"{name}: {exc}", False
            if given:
                break
        job_id = given or _derived_id(written_path, written_url)
        earlier = None if job_id is None else self._seen.claim(job_id, line)
        if earlier is None:
            return job_id, None, given is not None
        where = f"an earlier row ({self._name}:{earlier})"
        if given:
            return None, f"duplicate {name} {given!r}: {where} has it", True
        if written_path:
            return (
                None,
                (
                    f"{_SAME_FILE} as row {self._name}:{earlier} (the same path): this row is "
                    "skipped (give both rows `id` values to upload the file once per row)"
                ),
                False,
            )
        return (
            None,
            (
                f"duplicate download_url: {where} names the same URL (query strings "
                "aside; give the rows `id` values to upload it more than once)"
            ),
            False,
        )


def _derived_id(written_path: str | None, written_url: str | None) -> str | None:
    if written_path:
        return derive_job_id(written_path)
    return derive_url_job_id(written_url) if written_url else None


def _validate(raw: RawRow, id_problem: str | None) -> ManifestRow | str:
    """The validated row, or the first reason it is bad."""
    fields = raw.fields or {}
    reason = raw.problem or id_problem or (None if raw.text_ok else _undecodable_reason(fields))
    if reason:
        return reason
    try:
        return ManifestRow.model_validate(fields)
    except ValidationError as exc:
        return describe_validation_error(exc)


def _text_or_none(value: object) -> str | None:
    """Stripped text if ``value`` is non-blank, valid UTF-8 text; else None."""
    if not isinstance(value, str) or _undecodable(value):
        return None
    return value.strip() or None


def _undecodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _undecodable_reason(fields: Mapping[str, object]) -> str | None:
    names = dict.fromkeys(label for label, text in _texts(fields) if _undecodable(text))
    if not names:
        return None
    return f"not valid UTF-8 text in {', '.join(names)}: save the manifest as UTF-8"


def _texts(fields: Mapping[str, object], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(label, text) for every key and text value, nested ones included."""
    for name, value in fields.items():
        label = (prefix + name).encode("utf-8", "backslashreplace").decode("utf-8")
        yield label, name
        if isinstance(value, str):
            yield label, value
        elif isinstance(value, list):
            yield from ((label, item) for item in value if isinstance(item, str))
        elif isinstance(value, dict):
            yield from _texts(value, f"{label}.")
