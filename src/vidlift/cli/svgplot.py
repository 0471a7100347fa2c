"""Small inline SVG line charts for the HTML report (cli layer).

Pure functions from points to SVG text: no assets, no scripts, nothing fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

__all__ = ["line_chart"]

_WIDTH, _HEIGHT = 530, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, 16, 28, 36
_TICKS = 4


def _ticks(low: float, high: float) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / _TICKS
    return [low + i * step for i in range(_TICKS + 1)]


def line_chart(
    points: Sequence[tuple[float, float]],
    *,
    title: str,
    x_label: Callable[[float], str],
    y_label: Callable[[float], str],
    step: bool = False,
) -> str:
    """An SVG chart of ``points`` (x ascending). ``step``: a staircase (counts)."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="{_WIDTH}" height="{_HEIGHT}" role="img" aria-label="{escape(title)}">'
        f'<text x="{_LEFT}" y="18" class="t">{escape(title)}</text>'
    )
    if len(points) < 2:
        message = "not enough data to plot"
        return f'{head}<text x="{_LEFT}" y="{_HEIGHT // 2}" class="n">{message}</text></svg>'
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y1 = max(ys) or 1.0
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (x - x0) / ((x1 - x0) or 1.0) * plot_w

    def sy(y: float) -> float:
        return _TOP + plot_h - y / y1 * plot_h

    parts = [head]
    for tick in _ticks(0.0, y1):
        y = sy(tick)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT}" y2="{y:.1f}" class="g"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" class="y">{escape(y_label(tick))}</text>'
        )
    for tick in _ticks(x0, x1):
        parts.append(
            f'<text x="{sx(tick):.1f}" y="{_HEIGHT - 12}" class="x">{escape(x_label(tick))}</text>'
        )
    coords: list[str] = []
    for index, (x, y) in enumerate(points):
        if step and index:
            coords.append(f"{sx(x):.1f},{sy(points[index - 1][1]):.1f}")
        coords.append(f"{sx(x):.1f},{sy(y):.1f}")
    parts.append(f'<polyline points="{" ".join(coords)}" class="l"/>')
    parts.append("</svg>")
    return "".join(parts)
