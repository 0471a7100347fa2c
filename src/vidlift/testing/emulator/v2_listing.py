"""Which media a v2 media listing answers, and in what order: its ``q`` and ``sort``
parameters (part of the public test kit, :mod:`vidlift.testing`). Rules: docs/EMULATOR.md,
"v2". The emulator's own code: nothing from :mod:`vidlift.platforms`.
"""

from __future__ import annotations

from vidlift.testing.emulator.v2_answers import V2Failure
from vidlift.testing.emulator.v2_store import MediaRecord, V2Store

__all__ = ["select_media"]

_SORT_KEYS = {"created": "created_at", "last_modified": "updated_at"}


def select_media(store: V2Store, query: str, sort: str | None) -> list[MediaRecord]:
    """The media ``q`` selects, in the order ``sort`` asks (default: creation order).

    Raises V2Failure 400 for a ``q`` or ``sort`` the emulator does not support."""
    return _sorted(_query(store, query), sort)


def _sorted(media: list[MediaRecord], sort: str | None) -> list[MediaRecord]:
    """``sort=<field>:asc|dsc`` (``created`` or ``last_modified``; ties by id)."""
    if sort is None:
        return media
    name, _, order = sort.partition(":")
    attribute = _SORT_KEYS.get(name.strip())
    order = order.strip() or "asc"
    if attribute is None or order not in ("asc", "dsc"):
        raise V2Failure(
            400,
            "invalid_sort_param",
            "sort: the emulator supports created or last_modified, then :asc or :dsc",
        )
    return sorted(media, key=lambda m: (getattr(m, attribute), m.media_id), reverse=order == "dsc")


def _query(store: V2Store, query: str) -> list[MediaRecord]:
    """All, ``external_id:<id>`` or ``custom_params.<name>:<value>`` (a value may be
    quoted), in creation order."""
    if not query:
        return store.all_media()
    name, sep, raw = query.partition(":")
    name, value = name.strip(), raw.strip().strip('"')
    param = name.removeprefix("custom_params.")
    if not sep or not value or not param or name not in ("external_id", f"custom_params.{param}"):
        raise V2Failure(
            400,
            "invalid_query_param",
            "q: the emulator supports external_id:<id> and custom_params.<name>:<value>",
        )
    if name == "external_id":
        return store.with_external_id(value)
    media = store.all_media()
    return [m for m in media if m.metadata.get("custom_params", {}).get(param) == value]
