"""Charts drawn on the server as SVG (issue 16): no script, no chart library, nothing
fetched from elsewhere. This module lays a chart out (pure geometry, plain data);
``templates/dashboards/_chart.html`` draws it with Jinja's escaping: a <figure>
holding an SVG with <title> and <desc> (named by aria-labelledby), a legend in HTML,
and the same numbers as a table for whoever cannot see the picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 480  # the drawing's own units; it scales to its box (viewBox)
PLOT_LEFT = 40
ROW_LABEL = 130  # room for a row's label in a horizontal chart


@dataclass(frozen=True)
class Series:
    css: str  # the colour's class (dashboards.css: .s-<css>)
    label: str
    values: Sequence[int]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    tip: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    css: str = "tick"


@dataclass(frozen=True)
class Line:
    y: float


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    height: int
    labels: Sequence[str]  # the table's rows
    series: Sequence[Series]  # the legend and the table's columns
    head: str  # the table's first column heading
    numbers: str  # "the numbers as a table"
    total: str
    width: int = WIDTH
    lines: list[Line] = field(default_factory=list)
    left: float = PLOT_LEFT
    right: float = WIDTH - 4
    rects: list[Rect] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    legend: bool = True

    def rows(self) -> list[tuple[str, list[int]]]:
        return [(label, [s.values[i] for s in self.series])
                for i, label in enumerate(self.labels)]

    def sums(self) -> list[int]:
        return [sum(s.values) for s in self.series]


def _nice_top(biggest: int) -> int:
    """A round number at or above ``biggest`` for the scale (at least 4)."""
    if biggest <= 4:
        return 4
    step = 1
    while True:
        for m in (1, 2, 2.5, 5):
            top = int(step * m * 4)
            if top >= biggest and top % 4 == 0:
                return top
        step *= 10


def columns(chart_id: str, title: str, desc: str, labels: Sequence[str],
            series: Sequence[Series], *, head: str, numbers: str, total: str,
            every: int = 1, height: int = 220) -> Chart:
    """Stacked columns, one per label (a day, a week), one colour per series."""
    chart = Chart(chart_id, title, desc, height, labels, series, head, numbers, total)
    n = max(1, len(labels))
    top = _nice_top(max((sum(s.values[i] for s in series) for i in range(len(labels))),
                        default=0))
    plot_top, plot_bottom = 10, height - 28
    plot_h = plot_bottom - plot_top
    slot = (WIDTH - PLOT_LEFT - 6) / n
    bar = max(2.0, slot * 0.7)
    for k in range(5):  # grid lines and the scale
        y = plot_bottom - plot_h * k / 4
        chart.lines.append(Line(round(y, 1)))
        chart.texts.append(Text(PLOT_LEFT - 6, round(y + 4, 1), str(top * k // 4), "end"))
    for i, label in enumerate(labels):
        x = PLOT_LEFT + slot * i + (slot - bar) / 2
        base = float(plot_bottom)
        for s in series:
            v = s.values[i]
            if v:
                h = plot_h * v / top
                base -= h
                chart.rects.append(Rect(round(x, 1), round(base, 1), round(bar, 1),
                                        round(h, 1), s.css, f"{label} {s.label}: {v}"))
        if i % every == 0 or (i == n - 1 and i % every >= 2):
            chart.texts.append(Text(round(x + bar / 2, 1), height - 10, label, "middle"))
    return chart


def rows(chart_id: str, title: str, desc: str, labels: Sequence[str],
         series: Sequence[Series], *, head: str, numbers: str, total: str) -> Chart:
    """Stacked horizontal bars, one per label (an action, a kind of request)."""
    row_h = 28
    height = 16 + row_h * max(1, len(labels))
    chart = Chart(chart_id, title, desc, height, labels, series, head, numbers, total,
                  legend=len(series) > 1)
    top = _nice_top(max((sum(s.values[i] for s in series) for i in range(len(labels))),
                        default=0))
    plot_w = WIDTH - ROW_LABEL - 36
    for i, label in enumerate(labels):
        y = 8 + row_h * i
        chart.texts.append(Text(ROW_LABEL - 8, y + 17, _clip(label), "end", "row-label"))
        left = float(ROW_LABEL)
        for s in series:
            v = s.values[i]
            if v:
                w = plot_w * v / top
                chart.rects.append(Rect(round(left, 1), y + 4, round(w, 1), row_h - 8, s.css,
                                        f"{label} {s.label}: {v}"))
                left += w
        chart.texts.append(Text(round(left + 6, 1), y + 18,
                                str(sum(s.values[i] for s in series))))
    return chart


def _clip(text: str, most: int = 9) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
