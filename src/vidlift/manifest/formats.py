"""Manifest file formats: CSV and JSON Lines to raw rows with physical line numbers
(manifest layer).

Both readers stream: one row in memory at a time, whatever the file's size. They only
split the file into rows of ``field -> raw value`` (``custom`` gathered into one mapping)
and report what makes a row unreadable; the meaning of the values is checked by
:mod:`vidlift.manifest.reader`.

CSV: a header row names the columns (case-insensitive, surrounding blanks ignored):
``path``, ``download_url``, ``id``, ``title``, ``description``, ``tags``, ``date``,
``link``, the v2 template's ``publish_start_date``, ``permalink``, ``external_id`` and
``thumbnail_download_url``, and ``custom.<name>``. Decisions:

- A UTF-8 byte order mark is skipped; CRLF, LF and CR line ends are all accepted; a cell
  may hold quoted line breaks (the row's line is the physical line where it starts).
- Bytes that are not UTF-8 do not stop the file: the row is reported (which columns).
- Unknown columns (not ``custom.*``) are reported once, in one problem located on the
  header line, and their cells are ignored: it is not fatal (``--strict`` makes it so).
  A column with a blank name (a trailing separator from a spreadsheet) is ignored silently.
- Fatal (:class:`~vidlift.errors.ManifestError`): an empty file, a header without
  ``path`` or ``download_url``, a column named twice, a header that is not UTF-8, UTF-16
  text, and a line longer than 64 Mi characters (not a CSV file).
- Cells may be up to 16 Mi characters: ``csv.field_size_limit`` is raised to that
  (process-wide; never lowered). A bigger cell is a problem for that row.
- Quoting is strict: a quote inside a quoted cell must be doubled; an unclosed quote is
  reported instead of swallowing the rest of the file silently.

JSON Lines: one JSON object per line with the same field names (exact case); custom
parameters as ``"custom.<name>"`` keys and/or a ``"custom"`` object. Blank lines are
skipped. A line that is not UTF-8, not JSON, not an object, or longer than 64 MiB is a
problem for that line. Unknown keys are reported once each (a problem on the first line
using them; at most 1000 names are remembered) and ignored.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from vidlift.errors import ManifestError

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["FIELDS", "RawRow", "read_csv_rows", "read_jsonl_rows"]

FIELDS = frozenset(
    {
        "path",
        "download_url",
        "id",
        "title",
        "description",
        "tags",
        "date",
        "link",
        # JW's v2 template (the batch-upload guide's CSV)
        "publish_start_date",
        "permalink",
        "external_id",
        "thumbnail_download_url",
    }
)
CUSTOM_PREFIX = "custom."
MAX_CELL_CHARS = 16 * 1024 * 1024
MAX_LINE_CHARS = 64 * 1024 * 1024
_MAX_REPORTED_UNKNOWN_KEYS = 1000
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # JSON text for a lone surrogate


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row as read. ``fields`` is None when nothing of the row could be read.

    ``problem`` says what is wrong with the row as a whole, if anything. A
    ``header_level`` row is not a row but a note about the columns (unknown names) found
    on that line; it always has a problem and no fields. ``text_ok`` is True when every
    text of the row is known to be valid UTF-8 (so the check can be skipped).
    """

    line: int
    fields: dict[str, object] | None
    problem: str | None = None
    header_level: bool = False
    text_ok: bool = False


@dataclass(frozen=True, slots=True)
class _Column:
    field: str  # a name of FIELDS, or "custom"
    custom_name: str = ""


def _refuse_utf16(head: bytes, name: str) -> None:
    if head[:2] in _UTF16_BOMS:
        raise ManifestError(name, "the manifest is UTF-16 text: save it as UTF-8")


# ---------------------------------------------------------------------------------- CSV


def read_csv_rows(path: Path, name: str) -> Iterator[RawRow]:
    """Stream the rows of a CSV manifest (see the module docstring for the rules)."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))
    with path.open("rb") as binary:
        _refuse_utf16(binary.peek(2)[:2], name)
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(_bounded_lines(text, name), strict=True)
        columns, unknown = _read_header(reader, name)
        if unknown:
            yield RawRow(reader.line_num, None, _unknown_names_reason(unknown), header_level=True)
        yield from _csv_body(reader, columns)


def _bounded_lines(text: TextIO, name: str) -> Iterator[str]:
    number = 0
    while line := text.readline(MAX_LINE_CHARS):
        number += 1
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise ManifestError(
                f"{name}:{number}",
                f"line is longer than {MAX_LINE_CHARS} characters: is this a CSV file?",
            )
        yield line


def _read_header(reader: Reader, name: str) -> tuple[list[_Column | None], list[str]]:
    """Parse the first non-blank row: the columns, and the names of unknown ones."""
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                return _parse_header(cells, f"{name}:{reader.line_num}")
    except csv.Error as exc:
        reason = _csv_error_reason(exc)
        raise ManifestError(f"{name}:{reader.line_num}", f"the header row: {reason}") from exc
    raise ManifestError(name, "the manifest is empty: it needs a header row (path, title, ...)")


def _parse_header(cells: list[str], location: str) -> tuple[list[_Column | None], list[str]]:
    columns: list[_Column | None] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for cell in cells:
        label = cell.strip()
        if not _is_utf8(label):
            raise ManifestError(location, "the header row is not valid UTF-8 text")
        key = label.lower()
        if key.startswith(CUSTOM_PREFIX):
            key = CUSTOM_PREFIX + label[len(CUSTOM_PREFIX) :]
        if key and key in seen:
            raise ManifestError(location, f"column {label!r} appears twice in the header")
        seen.add(key)
        column = _column_of(key)
        if key and column is None:
            unknown.append(label)
        columns.append(column)
    if not seen & {"path", "download_url"}:
        found = ", ".join(repr(cell.strip()) for cell in cells)
        raise ManifestError(
            location, f"the header has no `path` column (nor `download_url`): found {found}"
        )
    return columns, unknown


def _column_of(key: str) -> _Column | None:
    if key in FIELDS:
        return _Column(key)
    if key.startswith(CUSTOM_PREFIX) and len(key) > len(CUSTOM_PREFIX):
        return _Column("custom", key[len(CUSTOM_PREFIX) :])
    return None


def _unknown_names_reason(names: list[str], kind: str = "column") -> str:
    listed = ", ".join(repr(name) for name in names)
    plural = "s" if len(names) > 1 else ""
    return (
        f"unknown {kind}{plural} {listed} ignored: known {kind}s are "
        f"{', '.join(sorted(FIELDS))}; custom parameters are named custom.<name>"
    )


def _csv_body(reader: Reader, columns: list[_Column | None]) -> Iterator[RawRow]:
    previous = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(previous + 1, None, _csv_error_reason(exc))
            previous = reader.line_num
            continue
        start, previous = previous + 1, reader.line_num
        if any(cell.strip() for cell in cells):
            yield _row_of_cells(cells, columns, start)


def _row_of_cells(cells: list[str], columns: list[_Column | None], line: int) -> RawRow:
    fields: dict[str, object] = {}
    custom: dict[str, str] = {}
    for column, cell in zip(columns, cells, strict=False):
        if column is None or not cell.strip():
            continue
        if column.field == "custom":
            custom[column.custom_name] = cell
        else:
            fields[column.field] = cell
    if custom:
        fields["custom"] = custom
    text_ok = _is_utf8("".join(cells))
    extra = cells[len(columns) :]
    if any(cell.strip() for cell in extra):
        reason = f"the row has {len(cells)} cells but the header has {len(columns)} columns"
        return RawRow(line, fields, reason, text_ok=text_ok)
    return RawRow(line, fields, text_ok=text_ok)


def _csv_error_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "unclosed quote: this row runs to the end of the file"
    if "field larger than field limit" in text:
        return f"a cell is larger than {MAX_CELL_CHARS} characters (or a quote is unclosed)"
    if "expected after" in text:
        return 'bad quoting: a quote inside a quoted cell must be doubled ("")'
    return f"cannot read this CSV row: {text}"


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- JSON Lines


def read_jsonl_rows(path: Path, name: str) -> Iterator[RawRow]:
    """Stream the rows of a JSON Lines manifest (see the module docstring)."""
    reported: set[str] = set()
    with path.open("rb") as binary:
        _refuse_utf16(binary.peek(2)[:2], name)
        for number, line in enumerate(_binary_lines(binary), start=1):
            if line is None:
                yield RawRow(number, None, f"line is longer than {MAX_LINE_CHARS} bytes")
                continue
            body = line.removeprefix(_UTF8_BOM) if number == 1 else line
            if body.strip():
                yield from _jsonl_row(body, number, reported)


def _binary_lines(binary: BinaryIO) -> Iterator[bytes | None]:
    """Lines of at most MAX_LINE_CHARS bytes; None stands for a longer line (skipped)."""
    while line := binary.readline(MAX_LINE_CHARS + 1):
        if len(line) <= MAX_LINE_CHARS:
            yield line
            continue
        while not line.endswith(b"\n") and (line := binary.readline(MAX_LINE_CHARS)):
            pass
        yield None


def _jsonl_row(line: bytes, number: int, reported: set[str]) -> Iterator[RawRow]:
    text = line.decode("utf-8", "surrogateescape")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        yield RawRow(number, None, f"not valid JSON: {exc}")
        return
    if not isinstance(value, dict):
        yield RawRow(number, None, f"not a JSON object but {type(value).__name__}")
        return
    fields, unknown, problem = _sort_keys(value, reported)
    if unknown:
        yield RawRow(number, None, _unknown_names_reason(unknown, "key"), header_level=True)
    text_ok = _is_utf8(text) and not _SURROGATE_ESCAPE.search(text)
    yield RawRow(number, fields, problem, text_ok=text_ok)


def _sort_keys(
    value: dict[str, object], reported: set[str]
) -> tuple[dict[str, object], list[str], str | None]:
    """Fields (custom gathered), the unknown keys not reported yet, and a problem."""
    fields: dict[str, object] = {}
    custom: dict[str, object] = {}
    unknown: list[str] = []
    problem = None
    for key, item in value.items():
        if key in FIELDS:
            fields[key] = item
        elif key == "custom" and isinstance(item, dict):
            problem = problem or _merge_custom(custom, item, "custom object")
        elif key == "custom":
            fields["custom"] = item  # not an object: let the row model say so
        elif key.startswith(CUSTOM_PREFIX) and len(key) > len(CUSTOM_PREFIX):
            problem = problem or _merge_custom(custom, {key[len(CUSTOM_PREFIX) :]: item}, key)
        elif key not in reported and len(reported) < _MAX_REPORTED_UNKNOWN_KEYS:
            reported.add(key)
            unknown.append(key)
    if custom and "custom" not in fields:
        fields["custom"] = custom
    return fields, unknown, problem


def _merge_custom(custom: dict[str, object], more: dict[str, object], source: str) -> str | None:
    for name, item in more.items():
        if name in custom:
            return f"custom parameter {name!r} is given twice (again in the {source})"
        custom[name] = item
    return None
