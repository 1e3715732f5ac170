"""Bar plots drawn on the server as SVG: no script, no library, readable on a phone.

A plot is computed here (pure) and drawn by the template
(templates/_bars.html): each slot (hour or day) with calls has a group
``<g class="slot" data-key=…>`` with one ``rect.bar`` per non-zero part,
answered at the bottom, missed stacked on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from router.stats import Figures

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 28


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str      # answered | missed
    value: int


@dataclass(frozen=True)
class Slot:
    key: str
    label: str
    x: float
    bars: tuple[Bar, ...]
    title: str


@dataclass(frozen=True)
class Plot:
    width: int
    height: int
    slots: tuple[Slot, ...]           # only those with calls
    labels: tuple[tuple[float, str], ...]
    ticks: tuple[tuple[float, str], ...]
    base_y: float


def nice_top(value: int) -> int:
    """The axis top: 1, 2, 5, 10, 20, 50 … at or above ``value``."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def stacked(figures: Sequence[Figures], labels: Sequence[str], label_every: int = 1) -> Plot:
    """Answered and missed calls per slot, stacked; ``labels`` name the slots."""
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM
    top = nice_top(max([f.answered + f.missed for f in figures] + [1]))
    step = inner_w / max(len(figures), 1)
    bar_w = max(step * 0.7, 1.0)
    base = TOP + inner_h
    slots = []
    for index, (figure, label) in enumerate(zip(figures, labels, strict=True)):
        x = LEFT + index * step + (step - bar_w) / 2
        bars = []
        y = float(base)
        for kind, value in (("answered", figure.answered), ("missed", figure.missed)):
            if value:
                height = inner_h * value / top
                y -= height
                bars.append(Bar(round(x, 1), round(y, 1), round(bar_w, 1), round(height, 1),
                                kind, value))
        if bars:
            slots.append(Slot(figure.key, label, round(x, 1), tuple(bars),
                              f"{label}: 接听 {figure.answered}, 未接 {figure.missed}"))
    ticks = tuple((round(base - inner_h * v / top, 1), str(v))
                  for v in sorted({0, top // 2, top}))
    shown = tuple((round(LEFT + i * step + step / 2, 1), label)
                  for i, label in enumerate(labels) if i % label_every == 0)
    return Plot(WIDTH, HEIGHT, tuple(slots), shown, ticks, base)
