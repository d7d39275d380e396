"""What every server-rendered SVG chart shares: a value axis on round numbers with gridlines, a
time axis with a few dated ticks, and hover bands that tell every value of a column.

Colours are never spelled here: a series is a `<g class="series series-NAME">` drawing in
`currentColor`, and static/css/custory.css gives each series class a token of tokens.css.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape


@dataclass(frozen=True)
class Frame:
    """The plot area inside an SVG of width × height, and the value range it shows."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    low: float
    high: float

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def y(self, value: float) -> float:
        return self.top + self.plot_h * (self.high - value) / ((self.high - self.low) or 1)


def nice_ticks(low: float, high: float, count: int = 4) -> list[int]:
    """Round tick values covering low..high (always including 0), about `count` of them."""
    low, high = min(low, 0), max(high, 0)
    if low == high:
        return [0, 1]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    return list(range(int(first), int(last) + 1, step))


def value_axis(frame: Frame, ticks: Sequence[int], label: Callable[[int], str]) -> list[str]:
    """Gridlines at each tick with its label at the left; the zero line drawn as the axis."""
    parts = []
    for value in ticks:
        y = frame.y(value)
        line_class = "axis" if value == 0 else "grid"
        parts.append(
            f'<line class="{line_class}" x1="{frame.left}" y1="{y:.1f}" '
            f'x2="{frame.width - frame.right}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(label(value))}</text>"
        )
    return parts


def time_axis(frame: Frame, xs: Sequence[float], labels: Sequence[str], most: int = 6) -> list[str]:
    """Up to `most` dated ticks along the bottom, the first and last always among them."""
    if not xs:
        return []
    every = max(math.ceil(len(xs) / most), 1)
    picked = sorted({*range(0, len(xs), every), len(xs) - 1})
    if len(picked) > 1 and picked[-1] - picked[-2] < every / 2:
        picked.pop(-2)  # the last tick would crowd its neighbour's label
    base = frame.height - frame.bottom
    parts = []
    for i in picked:
        anchor = "start" if i == 0 and len(xs) > 1 else "end" if i == len(xs) - 1 else "middle"
        parts.append(
            f'<line class="axis" x1="{xs[i]:.1f}" y1="{base}" x2="{xs[i]:.1f}" y2="{base + 4}"/>'
            f'<text class="tick" x="{xs[i]:.1f}" y="{base + 16}" text-anchor="{anchor}">'
            f"{escape(labels[i])}</text>"
        )
    return parts


def hover_bands(frame: Frame, xs: Sequence[float], titles: Sequence[str]) -> list[str]:
    """One invisible column per x, highlighted on hover, whose title lists that column's values."""
    if not xs:
        return []
    half = (xs[1] - xs[0]) / 2 if len(xs) > 1 else frame.plot_w / 2
    parts = []
    for x, title in zip(xs, titles, strict=True):
        start = max(x - half, frame.left)
        end = min(x + half, frame.width - frame.right)
        parts.append(
            f'<rect class="hover-band" x="{start:.1f}" y="{frame.top}" '
            f'width="{max(end - start, 1):.1f}" height="{frame.plot_h:.1f}">'
            f"<title>{escape(title)}</title></rect>"
        )
    return parts
