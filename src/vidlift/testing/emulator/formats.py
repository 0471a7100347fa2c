"""Rendering of the emulator's answers in each ``api_format``: json, xml, php (PHP
``serialize``) and py (a pickle of plain values) — part of the public test kit,
:mod:`vidlift.testing`.

The emulator formats with its own code, not with the client's parsers, so a bug on one
side is not hidden by the same bug on the other (../shared/STYLE.md). An :class:`Answer`
holds plain values only (dict, list, str, int, float, bool, None).
"""

from __future__ import annotations

import json
import pickle
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Answer", "ApiFormat", "Rendered", "php_serialize", "render", "xml_element"]

Plain = object  # dict[str, Plain] | list[Plain] | str | int | float | bool | None


class ApiFormat(StrEnum):
    """The answer formats of JW Platform API v1."""

    JSON = "json"
    XML = "xml"
    PHP = "php"
    PY = "py"


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer document in up to three shapes.

    ``data`` is the JSON shape. ``xml_data`` is the shape the XML follows when it differs
    (the seed nests ``link`` and ``session_id`` inside ``<video key=...>``).
    ``legacy_data`` is the php/py shape when it differs (old scripts read ``video.key``).
    """

    data: Mapping[str, Plain]
    xml_data: Mapping[str, Plain] | None = None
    legacy_data: Mapping[str, Plain] | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered body and its Content-Type."""

    body: bytes
    content_type: str


# Scalars rendered as XML attributes, by element (JW's ``<video key="...">``, ``<rate_limit/>``).
_XML_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "video": frozenset({"key"}),
    "rate_limit": frozenset({"reset", "limit", "remaining"}),
}
_XML_ITEM_TAGS: Mapping[str, str] = {"videos": "video"}
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def render(answer: Answer, api_format: ApiFormat) -> Rendered:
    """Render ``answer`` in ``api_format``."""
    if api_format is ApiFormat.XML:
        root = xml_element("response", answer.xml_data or answer.data)
        text = _XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n"
        return Rendered(text.encode("utf-8"), "application/xml; charset=utf-8")
    if api_format is ApiFormat.PHP:
        legacy = answer.legacy_data or answer.data
        return Rendered(php_serialize(legacy).encode("utf-8"), "text/plain; charset=utf-8")
    if api_format is ApiFormat.PY:
        legacy = answer.legacy_data or answer.data
        return Rendered(pickle.dumps(_plain(legacy), protocol=2), "application/python-pickle")
    text = json.dumps(answer.data, ensure_ascii=False, separators=(", ", ": "))
    return Rendered(text.encode("utf-8"), "application/json; charset=utf-8")


def xml_element(tag: str, value: Plain) -> ET.Element:
    """Build an element from a plain value; names that are not XML names become
    ``<param name="...">`` (custom parameter names are chosen by users)."""
    element = ET.Element(tag) if _XML_NAME.fullmatch(tag) else ET.Element("param", name=tag)
    if isinstance(value, Mapping):
        attributes = _XML_ATTRIBUTES.get(tag, frozenset())
        for name, item in value.items():
            if name in attributes and not isinstance(item, Mapping | list):
                element.set(name, _xml_text(item))
            else:
                element.append(xml_element(str(name), item))
    elif isinstance(value, list):
        item_tag = _XML_ITEM_TAGS.get(tag, "item")
        for item in value:
            element.append(xml_element(item_tag, item))
    elif value is not None:
        element.text = _xml_text(value)
    return element


def _xml_text(value: Plain) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def php_serialize(value: Plain) -> str:
    """PHP's ``serialize()`` of a plain value (string lengths count UTF-8 bytes)."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, float):
        return f"d:{value!r};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if isinstance(value, Mapping):
        items = "".join(php_serialize(str(k)) + php_serialize(v) for k, v in value.items())
        return f"a:{len(value)}:{{{items}}}"
    if isinstance(value, list):
        items = "".join(php_serialize(i) + php_serialize(v) for i, v in enumerate(value))
        return f"a:{len(value)}:{{{items}}}"
    raise TypeError(f"cannot serialize {type(value).__name__} for api_format=php")


def _plain(value: Plain) -> Plain:
    """A copy made of builtin types only, so the pickle names no class at all."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):  # a str subclass such as a StrEnum member
        return str(value)
    raise TypeError(f"cannot pickle {type(value).__name__} for api_format=py")
