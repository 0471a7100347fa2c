"""Decoding answer bodies into plain documents (protocol layer: pure).

An answer body becomes a ``dict`` of str/int/float/bool/None/list/dict, whatever the
api_format: JSON, XML (parsed with defusedxml: DTDs and entities refused, never
expanded), or PHP serialize. The ``py`` format is a Python pickle and is refused:
unpickling what a server sent runs arbitrary code (../shared/PROTOCOL.md, "Answers").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from vidlift.errors import AnswerParseError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["Document", "decode_document", "element_to_value"]

Document = dict[str, Any]

_MAX_BODY_BYTES = 16 * 1024 * 1024
_MAX_XML_DEPTH = 64  # answers are a few levels deep; deeper is garbage (or an attack)
_UTF8_BOM = b"\xef\xbb\xbf"


def decode_document(body: bytes, *, content_type: str | None = None) -> Document:
    """Decode an API answer body by sniffing it (content types are often wrong).

    Raises AnswerParseError for an empty, malformed, unsafe or unsupported body.
    """
    if len(body) > _MAX_BODY_BYTES:
        raise AnswerParseError(f"answer body too large ({len(body)} bytes)")
    text = body.removeprefix(_UTF8_BOM).lstrip()
    ctype = (content_type or "").lower()
    if not text:
        raise AnswerParseError("empty answer body")
    if _looks_like_pickle(text) or "python-pickle" in ctype:
        raise AnswerParseError(
            "answer is a Python pickle (api_format=py): refused, unpickling runs code; "
            "use api_format json or xml"
        )
    if text[:1] in (b"{", b"["):
        return _decode_json(text)
    if text[:1] == b"<":
        if text[:14].lower().startswith((b"<!doctype html", b"<html")):
            raise AnswerParseError(f"answer is an HTML page, not an API answer: {_snippet(text)}")
        return _decode_xml(text)
    if text[:2] in (b"a:", b"O:"):
        from vidlift.protocol.phpserial import loads_php

        value = loads_php(text)
        if not isinstance(value, dict):
            raise AnswerParseError("PHP answer is not an array")
        return value
    raise AnswerParseError(f"answer is neither JSON, XML nor PHP: {_snippet(text)}")


def _looks_like_pickle(body: bytes) -> bool:
    # Protocol 2+ pickles start with PROTO (0x80); protocols 0 and 1 (what Python 2 era
    # servers sent) start with MARK "(", an empty dict "}" or list "]" and end with STOP ".".
    return body[:1] == b"\x80" or (body[:1] in (b"(", b"}", b"]") and body.rstrip()[-1:] == b".")


def _snippet(body: bytes) -> str:
    return repr(body[:120].decode("utf-8", "replace"))


def _decode_json(body: bytes) -> Document:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise AnswerParseError(f"malformed JSON answer: {exc}") from None
    if not isinstance(value, dict):
        raise AnswerParseError("JSON answer is not an object")
    return value


def _decode_xml(body: bytes) -> Document:
    # Imported here: the v1 API answers JSON unless asked for XML, and a one-file upload's
    # start-up counts (benchmarks/startup.py).
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as exc:
        raise AnswerParseError(f"XML answer with a DTD or entities refused: {exc!r}") from None
    except SafeET.ParseError as exc:
        raise AnswerParseError(f"malformed XML answer: {exc}") from None
    except (LookupError, ValueError) as exc:  # e.g. an unknown encoding declaration
        raise AnswerParseError(f"unreadable XML answer: {exc}") from None
    value = element_to_value(root)
    if not isinstance(value, dict):
        # <response>ok</response> and the like: no structure at all.
        raise AnswerParseError("XML answer has no elements")
    return value


def element_to_value(element: Element, *, depth: int = 0) -> Any:
    """XML to plain values: attributes and children become keys; a repeated child a list;
    an element with only text its text.

    Raises AnswerParseError for elements nested deeper than any answer is.
    """
    if depth > _MAX_XML_DEPTH:
        raise AnswerParseError(f"XML answer nested deeper than {_MAX_XML_DEPTH} levels")
    children = list(element)
    if not children and not element.attrib:
        return (element.text or "").strip()
    value: dict[str, Any] = dict(element.attrib)
    repeated: set[str] = set()
    for child in children:
        item = element_to_value(child, depth=depth + 1)
        if child.tag in repeated:
            value[child.tag].append(item)
        elif child.tag in value:
            value[child.tag] = [value[child.tag], item]
            repeated.add(child.tag)
        else:
            value[child.tag] = item
    if not children and element.text and element.text.strip():
        value["text"] = element.text.strip()
    return value
