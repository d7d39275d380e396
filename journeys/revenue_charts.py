"""Server-rendered SVG charts of revenue: MRR over time (a line) and MRR movements (stacked
bars, gains above the axis and losses below). Kinds differ by pattern as well as colour."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from custory.money import money_format

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 680, 240, 72, 12, 12, 28
# (colour, fill pattern id) per movement kind; the legend names them.
KIND_STYLE = {
    "new": ("#1d7a3a", ""),
    "expansion": ("#3d4fd6", ""),
    "reactivation": ("#6b3fa0", "hatch"),
    "contraction": ("#8a5a00", "hatch"),
    "churn_voluntary": ("#b3261e", ""),
    "churn_involuntary": ("#5c1410", "dots"),
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
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="white" opacity=".35"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="white" stroke-width="2"/></pattern>'
    '<pattern id="dots" width="5" height="5" patternUnits="userSpaceOnUse">'
    '<circle cx="2.5" cy="2.5" r="1.2" fill="white"/></pattern></defs>'
)


def _label(day, unit: str) -> str:
    return day.strftime("%b %Y" if unit == "month" else "%-d %b")


def _frame(low: int, high: int, currency: str, buckets: list, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for value in sorted({low, 0, high}):
        y = TOP + plot_h * (high - value) / ((high - low) or 1)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#d5d8df"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{escape(money_format(value, currency))}</text>"
        )
    if buckets:
        parts.append(
            f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="11">{_label(buckets[0], unit)}</text>'
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">'
            f"{_label(buckets[-1], unit)}</text>"
        )
    return parts


def _svg(parts: list[str], label: str) -> SafeString:
    return mark_safe(  # noqa: S308 — every text above is escaped or numeric
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}">{PATTERNS}{"".join(parts)}</svg>'
    )


def mrr_line(buckets: list, totals: list[int], currency: str, unit: str) -> SafeString:
    """MRR at the end of each bucket, in the reporting currency."""
    high, low = max([*totals, 0]), min([*totals, 0])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(totals) - 1, 1)
    coords = [
        (LEFT + i * step, TOP + plot_h * (high - v) / ((high - low) or 1))
        for i, v in enumerate(totals)
    ]
    parts = _frame(low, high, currency, buckets, unit)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#3d4fd6" stroke-width="2.5"/>')
    if len(coords) <= 60:
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#3d4fd6"/>' for x, y in coords)
    end = money_format(totals[-1], currency) if totals else "none"
    return _svg(parts, f"MRR per {unit}, ending at {end}; the table below has every value.")


def movement_bars(
    buckets: list, per_bucket: list[dict[str, int]], currency: str, unit: str
) -> SafeString:
    """Movements per bucket by kind, stacked: gains up from the axis, losses down."""
    ups = [sum(v for v in b.values() if v > 0) for b in per_bucket]
    downs = [sum(v for v in b.values() if v < 0) for b in per_bucket]
    high, low = max([*ups, 0]), min([*downs, 0])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    scale = plot_h / ((high - low) or 1)
    slot = plot_w / max(len(buckets), 1)
    zero = TOP + high * scale
    parts = _frame(low, high, currency, buckets, unit)
    for i, amounts in enumerate(per_bucket):
        up, down = zero, zero
        for kind, (color, pattern) in KIND_STYLE.items():
            value = amounts.get(kind, 0)
            if not value:
                continue
            h = abs(value) * scale
            y = up - h if value > 0 else down
            up, down = (y, down) if value > 0 else (up, down + h)
            x, w = LEFT + i * slot + slot * 0.15, slot * 0.7
            title = (
                f"{_label(buckets[i], unit)}: {KIND_LABEL[kind]} {money_format(value, currency)}"
            )
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{escape(title)}</title></rect>"
            )
            if pattern:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                    f'fill="url(#{pattern})" aria-hidden="true"/>'
                )
    return _svg(parts, f"MRR movements per {unit}, gains above and losses below the axis.")


def legend() -> SafeString:
    items = []
    for kind, (color, pattern) in KIND_STYLE.items():
        fill = f'<rect width="14" height="14" fill="{color}"/>'
        if pattern:
            fill += f'<rect width="14" height="14" fill="url(#{pattern})"/>'
        items.append(
            f'<li><svg width="14" height="14" aria-hidden="true">{PATTERNS}{fill}</svg> '
            f"{escape(KIND_LABEL[kind])}</li>"
        )
    return mark_safe(  # noqa: S308 — constant labels, escaped
        f'<ul class="legend" role="list">{"".join(items)}</ul>'
    )
