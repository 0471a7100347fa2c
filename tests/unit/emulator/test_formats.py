"""Answer rendering: php serialize, XML names, pickles of plain values only."""

from __future__ import annotations

import io
import pickle
from typing import Any

import pytest

from vidlift.testing.emulator.formats import Answer, ApiFormat, php_serialize, render


def test_php_serialize_counts_utf8_bytes_and_nests() -> None:
    value = {"a": "é", "n": 3, "l": [True, None, 1.5]}
    assert (
        php_serialize(value)
        == 'a:3:{s:1:"a";s:2:"é";s:1:"n";i:3;s:1:"l";a:3:{i:0;b:1;i:1;N;i:2;d:1.5;}}'
    )


def test_xml_attributes_lists_and_odd_names() -> None:
    answer = Answer(
        {
            "status": "ok",
            "videos": [{"key": "k1", "custom": {"9lives": "x", "ok": "&<"}}],
            "rate_limit": {"reset": 1, "limit": 2, "remaining": 0},
        }
    )
    text = render(answer, ApiFormat.XML).body.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert (
        '<videos><video key="k1"><custom><param name="9lives">x</param><ok>&amp;&lt;</ok>' in text
    )
    assert '<rate_limit reset="1" limit="2" remaining="0" />' in text


class _Strict(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise AssertionError(f"{module}.{name}")


def test_py_format_is_a_pickle_of_builtins_only() -> None:
    from vidlift.testing.emulator.store import VideoStatus

    rendered = render(Answer({"status": VideoStatus.READY, "n": [1, "x"]}), ApiFormat.PY)
    value = _Strict(io.BytesIO(rendered.body)).load()
    assert value == {"status": "ready", "n": [1, "x"]}
    assert type(value["status"]) is str


def test_unrenderable_values_are_refused() -> None:
    with pytest.raises(TypeError):
        render(Answer({"x": object()}), ApiFormat.PHP)
