"""The parameters of an API call: reading them from the query and the form, checking
values, video metadata and list filters (part of the public test kit, :mod:`vidlift.testing`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from vidlift.testing.emulator.answers import ApiFailure
from vidlift.testing.emulator.store import VideoRecord, VideoStatus

__all__ = ["Params", "SearchFilter", "read_metadata", "read_params"]

_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_CUSTOM_PREFIX = "custom."
_SEARCH_CUSTOM_PREFIX = "search:custom."
_CUSTOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_TEXT_FIELDS = ("title", "description", "tags", "link")


async def read_params(request: web.Request) -> list[tuple[str, str]]:
    """Every parameter of the call, query first, then the form body, repeats kept."""
    pairs = list(request.query.items())
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        form = await request.post()
        pairs.extend((name, value) for name, value in form.items() if isinstance(value, str))
    return pairs


@dataclass(frozen=True, slots=True)
class Params:
    """The (name, value) pairs of one call, in arrival order."""

    pairs: Sequence[tuple[str, str]]

    def get(self, name: str) -> str | None:
        """The first value of ``name``, if any."""
        for key, value in self.pairs:
            if key == name:
                return value
        return None

    def require(self, name: str) -> str:
        """The first value of ``name``; 400 ParameterMissing when absent or empty."""
        value = self.get(name)
        if not value:
            raise ApiFailure(400, "ParameterMissing", f"parameter {name} is missing")
        return value

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        """An integer parameter in ``low..high``; 400 ParameterInvalid otherwise."""
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        if not _INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
            raise ApiFailure(400, "ParameterInvalid", f"{name} must be an integer in {low}..{high}")
        return int(raw)

    def prefixed(self, prefix: str) -> dict[str, str]:
        """``{suffix: value}`` for every parameter named ``prefix + suffix`` (first wins)."""
        found: dict[str, str] = {}
        for key, value in self.pairs:
            if key.startswith(prefix):
                found.setdefault(key[len(prefix) :], value)
        return found

    def search_filter(self) -> SearchFilter:
        """The filters of a ``/videos/list`` call."""
        statuses = None
        raw = self.get("statuses_filter")
        if raw:
            names = {part.strip() for part in raw.split(",") if part.strip()}
            known = {str(s) for s in VideoStatus}
            if not names <= known:
                bad = ", ".join(sorted(names - known))
                raise ApiFailure(400, "ParameterInvalid", f"statuses_filter: unknown status {bad}")
            statuses = frozenset(names)
        return SearchFilter(
            text=(self.get("search") or "").strip().lower(),
            custom=tuple(sorted(self.prefixed(_SEARCH_CUSTOM_PREFIX).items())),
            statuses=statuses,
        )


def read_metadata(params: Params) -> tuple[dict[str, Any], dict[str, str]]:
    """The video fields a create/update call sets (only those given), and its
    ``custom.<name>`` parameters."""
    meta: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = params.get(name)
        if value is not None:
            meta[name] = value
    date = params.get("date")
    if date is not None:
        if not _INTEGER.fullmatch(date):
            raise ApiFailure(400, "ParameterInvalid", "date must be a Unix timestamp")
        meta["date"] = int(date)
    custom = params.prefixed(_CUSTOM_PREFIX)
    for name in custom:
        if not _CUSTOM_NAME.fullmatch(name):
            raise ApiFailure(
                400, "ParameterInvalid", f"custom.{name}: names are 1-64 of A-Z a-z 0-9 _ -"
            )
    return meta, custom


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """``search`` (free text in the title), ``search:custom.<name>=<value>`` (exact; the
    name ``*`` matches any custom parameter) and ``statuses_filter``."""

    text: str
    custom: tuple[tuple[str, str], ...]
    statuses: frozenset[str] | None

    def matches(self, video: VideoRecord) -> bool:
        """True when ``video`` passes every filter."""
        if self.statuses is not None and str(video.status) not in self.statuses:
            return False
        if self.text and self.text not in video.title.lower():
            return False
        for name, value in self.custom:
            if name == "*":
                if value not in video.custom.values():
                    return False
            elif video.custom.get(name) != value:
                return False
        return True
