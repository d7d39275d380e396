"""Server-rendered SVG charts of revenue: MRR over time (a line) and MRR movements (stacked
bars, gains above the axis and losses below). Kinds differ by pattern as well as colour."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from custory.charts import Frame, hover_bands, nice_ticks, time_axis, value_axis
from custory.money import money_format

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 680, 240, 72, 12, 12, 28
# Fill pattern per movement kind (colour comes from `series-movement-<kind>` in custory.css);
# the legend names them.
KIND_STYLE = {
    "new": "",
    "expansion": "",
    "reactivation": "hatch",
    "contraction": "hatch",
    "churn_voluntary": "",
    "churn_involuntary": "dots",
}
KIND_LABEL = {
    "new": "New",
    "expansion": "Expansion",
    "contraction": "Contraction",
    "churn_voluntary": "Churn, voluntary",
    "churn_involuntary": "Churn, involuntary",
    "reactivation": "Reactivation",
}
PATTERNS = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect class="pattern-mark" width="6" height="6" opacity=".35"/>'
    '<line class="pattern-mark" x1="0" y1="0" x2="0" y2="6" stroke-width="2"/></pattern>'
    '<pattern id="dots" width="5" height="5" patternUnits="userSpaceOnUse">'
    '<circle class="pattern-mark" cx="2.5" cy="2.5" r="1.2"/></pattern></defs>'
)


def _label(day, unit: str) -> str:
    return day.strftime("%b %Y" if unit == "month" else "%-d %b")


def _frame(low: int, high: int) -> tuple[Frame, list[int]]:
    ticks = nice_ticks(low, high)
    return Frame(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, ticks[0], ticks[-1]), ticks


def _axes(frame: Frame, ticks, currency: str, xs, buckets, unit: str) -> list[str]:
    parts = value_axis(frame, ticks, lambda value: money_format(value, currency))
    return parts + time_axis(frame, xs, [_label(day, unit) for day in buckets])


def _svg(parts: list[str], label: str) -> SafeString:
    return mark_safe(  # noqa: S308 — every text above is escaped or numeric
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}">{PATTERNS}{"".join(parts)}</svg>'
    )


def mrr_line(buckets: list, totals: list[int], currency: str, unit: str) -> SafeString:
    """MRR at the end of each bucket, in the reporting currency; each value on hover."""
    frame, ticks = _frame(min([*totals, 0]), max([*totals, 0]))
    step = frame.plot_w / max(len(totals) - 1, 1)
    xs = [LEFT + i * step for i in range(len(totals))]
    coords = [(x, frame.y(v)) for x, v in zip(xs, totals, strict=True)]
    parts = _axes(frame, ticks, currency, xs, buckets, unit)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    markers = (
        "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="currentColor"/>' for x, y in coords)
        if len(coords) <= 60
        else ""
    )
    parts.append(
        f'<g class="series series-mrr"><polyline points="{points}" fill="none" '
        f'stroke="currentColor" stroke-width="2.5"/>{markers}</g>'
    )
    titles = [
        f"{_label(day, unit)}: MRR {money_format(total, currency)}"
        for day, total in zip(buckets, totals, strict=False)
    ]
    parts += hover_bands(frame, xs[: len(titles)], titles)
    end = money_format(totals[-1], currency) if totals else "none"
    return _svg(parts, f"MRR per {unit}, ending at {end}; the table below has every value.")


def movement_bars(
    buckets: list, per_bucket: list[dict[str, int]], currency: str, unit: str
) -> SafeString:
    """Movements per bucket by kind, stacked: gains up from the axis, losses down."""
    ups = [sum(v for v in b.values() if v > 0) for b in per_bucket]
    downs = [sum(v for v in b.values() if v < 0) for b in per_bucket]
    frame, ticks = _frame(min([*downs, 0]), max([*ups, 0]))
    slot = frame.plot_w / max(len(buckets), 1)
    xs = [LEFT + (i + 0.5) * slot for i in range(len(buckets))]
    parts = _axes(frame, ticks, currency, xs, buckets, unit)
    zero = frame.y(0)
    for i, amounts in enumerate(per_bucket):
        up, down = zero, zero
        for kind, pattern in KIND_STYLE.items():
            value = amounts.get(kind, 0)
            if not value:
                continue
            h = abs(frame.y(0) - frame.y(abs(value)))
            y = up - h if value > 0 else down
            up, down = (y, down) if value > 0 else (up, down + h)
            x, w = LEFT + i * slot + slot * 0.15, slot * 0.7
            title = (
                f"{_label(buckets[i], unit)}: {KIND_LABEL[kind]} {money_format(value, currency)}"
            )
            overlay = (
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                f'fill="url(#{pattern})" aria-hidden="true"/>'
                if pattern
                else ""
            )
            parts.append(
                f'<g class="series series-movement-{kind}"><rect x="{x:.1f}" y="{y:.1f}" '
                f'width="{w:.1f}" height="{h:.1f}" fill="currentColor">'
                f"<title>{escape(title)}</title></rect>{overlay}</g>"
            )
    return _svg(parts, f"MRR movements per {unit}, gains above and losses below the axis.")


def legend() -> SafeString:
    items = []
    for kind, pattern in KIND_STYLE.items():
        fill = '<rect width="14" height="14" fill="currentColor"/>'
        if pattern:
            fill += f'<rect width="14" height="14" fill="url(#{pattern})"/>'
        items.append(
            f'<li><svg class="series series-movement-{kind}" width="14" height="14" '
            f'aria-hidden="true">{PATTERNS}{fill}</svg> '
            f"{escape(KIND_LABEL[kind])}</li>"
        )
    return mark_safe(  # noqa: S308 — constant labels, escaped
        f'<ul class="legend" role="list">{"".join(items)}</ul>'
    )
