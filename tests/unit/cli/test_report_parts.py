"""The HTML report's parts: SVG charts and the run history."""

from __future__ import annotations

import json
from pathlib import Path

from vidlift.cli.history import history_path, read_history
from vidlift.cli.svgplot import line_chart


def test_a_chart_escapes_its_labels_and_draws_every_point() -> None:
    svg = line_chart(
        [(0, 0), (10, 5), (20, 2)], title="a <b>", x_label=str, y_label=lambda y: f"{y}&"
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "a &lt;b&gt;" in svg and "<b>" not in svg and "&amp;" in svg
    points = svg.split('<polyline points="')[1].split('"')[0].split()
    assert len(points) == 3


def test_a_step_chart_draws_stairs_and_one_point_is_not_enough() -> None:
    svg = line_chart([(0, 0), (1, 1), (2, 2)], title="t", x_label=str, y_label=str, step=True)
    assert len(svg.split('<polyline points="')[1].split('"')[0].split()) == 5
    lonely = line_chart([(0, 1)], title="t", x_label=str, y_label=str)
    assert "not enough data to plot" in lonely and "<polyline" not in lonely


def test_history_lines_cut_by_a_kill_are_skipped(tmp_path: Path) -> None:
    journal = tmp_path / "j.vidlift.sqlite"
    good = {"t": 1.0, "kind": "sample", "sent": 5}
    history_path(journal).write_text(json.dumps(good) + '\n{"t": 2.0, "kind": "sam')
    assert list(read_history(journal)) == [good]
    assert list(read_history(tmp_path / "none.sqlite")) == []


def test_long_runs_are_thinned_to_a_few_hundred_points() -> None:
    from vidlift.cli.htmlreport import _thin

    points = [(float(i), float(i % 2)) for i in range(100_000)]
    rates = _thin(points, average=True)
    assert 300 <= len(rates) <= 600 and all(abs(y - 0.5) < 0.01 for _, y in rates)
    counts = _thin([(float(i), float(i)) for i in range(100_000)], average=False)
    assert counts[0] == (0.0, 0.0) and counts[-1] == (99_999.0, 99_999.0) and len(counts) <= 601
