"""Dashboard template helpers: kind labels, percentages, changes, sparklines and charts."""

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from billing.models import SignalKind
from custory.charts import Frame, hover_bands, nice_ticks, time_axis, value_axis
from custory.formatting import duration_text

register = template.Library()


@register.filter
def kind_label(kind: str) -> str:
    try:
        return SignalKind(kind).label
    except ValueError:
        return kind


@register.filter
def percent(value):
    """0.4231 → "42%"; None → "—"."""
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"


@register.filter
def duration_hours(hours):
    """Hours as words: 5.5 → "5 h 30 min", 50 → "2 days 2 h"."""
    if hours is None:
        return "—"
    return duration_text(hours * 3600)


@register.filter
def change_label(change):
    """+0.25 → "▲ 25%", -0.1 → "▼ 10%", None → "new" (nothing in the previous period)."""
    if change is None:
        return ""
    if abs(change) < 0.005:
        return "= 0%"
    arrow = "▲" if change > 0 else "▼"
    return f"{arrow} {abs(change) * 100:.0f}%"


@register.simple_tag
def sparkline(values, label=""):
    """A small inline SVG line of counts; the numbers are in its accessible label."""
    values = list(values or [])
    if not values:
        return ""
    width, height = 120, 28
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    text = f"{label}: {sum(values)} signals, peak {max(values)} per interval"
    return format_html(
        '<svg class="spark" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}"><title>{}</title><polyline points="{}" fill="none" '
        'stroke="currentColor" stroke-width="1.5"/></svg>',
        width,
        height,
        width,
        height,
        text,
        text,
        points,
    )


# Series are told apart by dash pattern and marker shape, not by colour alone. A kind keeps its
# colour on every chart: `series-<kind>` takes a chart token in custory.css (losses in reds).
_PATTERNS = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4"]
_MARKERS = ["circle", "square", "triangle", "diamond", "cross", "bar"]
_OTHER_SERIES = 4  # series-other-0..3 in custory.css, for kinds this list does not know


def series_class(kind: str, index: int = 0) -> str:
    """The CSS class that colours a kind's series, the same on every chart."""
    if kind in SignalKind.values:
        return f"series series-{kind}"
    return f"series series-other-{index % _OTHER_SERIES}"


def _marker(shape: str, x: float, y: float) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="currentColor"/>'
    if shape == "square":
        return f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="currentColor"/>'
    if shape == "triangle":
        return (
            f'<polygon points="{x:.1f},{y - 4:.1f} {x - 4:.1f},{y + 3:.1f} {x + 4:.1f},{y + 3:.1f}"'
            ' fill="currentColor"/>'
        )
    if shape == "diamond":
        return (
            f'<polygon points="{x:.1f},{y - 4:.1f} {x + 4:.1f},{y:.1f} {x:.1f},{y + 4:.1f} '
            f'{x - 4:.1f},{y:.1f}" fill="currentColor"/>'
        )
    if shape == "cross":
        return (
            f'<path d="M{x - 3:.1f} {y - 3:.1f}L{x + 3:.1f} {y + 3:.1f}M{x + 3:.1f} {y - 3:.1f}'
            f'L{x - 3:.1f} {y + 3:.1f}" stroke="currentColor" stroke-width="2"/>'
        )
    return f'<rect x="{x - 1:.1f}" y="{y - 4:.1f}" width="2" height="8" fill="currentColor"/>'


@register.simple_tag
def kind_chart(series, buckets, unit):
    """Signals per kind over time as an SVG line chart: count axis, dated ticks, the values of a
    day on hover, and a legend (server-rendered)."""
    if not series or not buckets:
        return format_html('<p class="muted">{}</p>', "No signals in this period.")
    ordered = sorted(series.items(), key=lambda kv: -sum(kv[1]))
    ticks = nice_ticks(0, max((max(v) for v in series.values()), default=0))
    frame = Frame(640, 230, 40, 12, 10, 28, ticks[0], ticks[-1])
    step = frame.plot_w / max(len(buckets) - 1, 1)
    xs = [frame.left + j * step for j in range(len(buckets))]
    labels = [day.strftime("%b %Y" if unit == "month" else "%-d %b") for day in buckets]
    parts = value_axis(frame, ticks, str)
    parts += time_axis(frame, xs, labels)
    legend = []
    for i, (kind, values) in enumerate(ordered):
        css, dash, shape = (
            series_class(kind, i),
            _PATTERNS[i % len(_PATTERNS)],
            _MARKERS[i % len(_MARKERS)],
        )
        coords = [(x, frame.y(v)) for x, v in zip(xs, values, strict=False)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        markers = "".join(_marker(shape, x, y) for x, y in coords) if len(coords) <= 60 else ""
        parts.append(
            f'<g class="{css}" data-kind="{escape(kind)}"><polyline points="{points}" fill="none" '
            f'stroke="currentColor" stroke-width="2"{dash_attr}/>{markers}</g>'
        )
        sample = (
            f'<svg class="{css}" width="34" height="12" aria-hidden="true"><line x1="0" y1="6" '
            f'x2="34" y2="6" stroke="currentColor" stroke-width="2"{dash_attr}/>'
            f"{_marker(shape, 17, 6)}</svg>"
        )
        legend.append(f"<li>{sample} {escape(kind_label(kind))} ({sum(values)})</li>")
    titles = [
        f"{labels[j]}: " + ", ".join(f"{kind_label(k)} {v[j]}" for k, v in ordered if j < len(v))
        for j in range(len(buckets))
    ]
    parts += hover_bands(frame, xs, titles)
    label = (
        "Signals per "
        + unit
        + " by kind: "
        + "; ".join(f"{kind_label(k)} {sum(v)}" for k, v in series.items())
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {frame.width} {frame.height}" role="img" '
        f'aria-label="{escape(label)}">{"".join(parts)}</svg>'
    )
    return mark_safe(  # noqa: S308 — every interpolated text above is escaped or numeric
        f'<figure class="kind-chart">{svg}<ul class="legend" role="list">{"".join(legend)}</ul>'
        f"{_kind_table(ordered, labels, unit)}</figure>"
    )


def _kind_table(ordered: list, labels: list[str], unit: str) -> str:
    """The chart's values as a table, for keyboards and screen readers (hover is mouse-only)."""
    head = "".join(f'<th scope="col" class="num">{escape(kind_label(k))}</th>' for k, _ in ordered)
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f'<td class="num">{values[j]}</td>' for _, values in ordered)
        + "</tr>"
        for j, label in enumerate(labels)
    )
    return (
        f'<details class="chart-table"><summary>Table</summary><div class="table-wrap">'
        f'<table class="table"><caption class="sr-only">Signals per {escape(unit)} by kind'
        f'</caption><thead><tr><th scope="col">{escape(unit.capitalize())}</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></details>"
    )


@register.filter
def signal_note(signal) -> str:
    """The one detail worth a column in a list: the decline code or the reason."""
    details = signal.details or {}
    return _words_of(details.get("decline_code") or details.get("reason") or "")


def _words_of(code: str) -> str:
    return str(code).replace("_", " ")


# Filters shown as removable chips: (parameter, label); kinds get one chip per kind.
_CHIP_FIELDS = [
    ("period", "Period"),
    ("start", "From"),
    ("end", "To"),
    ("mode", "Mode"),
    ("connection", "Connection"),
    ("customer", "Customer"),
    ("amount_min", "Amount from"),
    ("amount_max", "Amount to"),
    ("decline_code", "Decline code"),
]


def _chip_value(form, name: str, value: str) -> str:
    field = form.fields.get(name)
    if name == "connection" and form.is_valid() and form.cleaned_data.get("connection"):
        return str(form.cleaned_data["connection"])
    choices = dict(getattr(field, "choices", []) or [])
    return str(choices.get(value, value))


def _default_period(form) -> str:
    """What the page shows without a period: the form's initial, or 30 days where it must chart."""
    values = [value for value, _ in form.fields["period"].choices]
    initial = form.fields["period"].initial
    return initial if initial in values else "30"


@register.filter
def default_period(form) -> str:
    return _default_period(form)


@register.simple_tag
def filter_chips(form, query):
    """The active filters of a filter bar as [(label, query without it)], for removable chips."""
    query = query.copy()
    for key in [k for k, values in query.lists() if not any(values)]:
        query.pop(key)
    chips = []
    for value in query.getlist("kind"):
        rest = query.copy()
        rest.setlist("kind", [k for k in query.getlist("kind") if k != value])
        chips.append((f"Kind: {kind_label(value)}", rest.urlencode()))
    for name, label in _CHIP_FIELDS:
        value = query.get(name, "")
        if not value or (name == "period" and value == _default_period(form)):
            continue
        rest = query.copy()
        rest.pop(name)
        if name == "period":
            rest.pop("start", None)
            rest.pop("end", None)
        rest.pop("page", None)
        chips.append((f"{label}: {_chip_value(form, name, value)}", rest.urlencode()))
    return chips
