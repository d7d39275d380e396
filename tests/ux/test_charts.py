"""Charts have real axes (round ticks, dated ticks) and tell each column's values on hover."""

import re
from datetime import date, timedelta

from billing.templatetags.billing_tags import kind_chart
from custory.charts import nice_ticks
from journeys.revenue_charts import movement_bars, mrr_line


def days(n: int) -> list[date]:
    return [date(2026, 1, 1) + timedelta(days=i) for i in range(n)]


def test_ticks_are_round_numbers_covering_the_range_and_zero():
    assert nice_ticks(0, 7) == [0, 2, 4, 6, 8]
    assert nice_ticks(0, 1) == [0, 1]
    assert nice_ticks(0, 0) == [0, 1]
    ticks = nice_ticks(-3000, 9500)
    assert ticks[0] <= -3000 and ticks[-1] >= 9500 and 0 in ticks
    assert len({b - a for a, b in zip(ticks, ticks[1:], strict=False)}) == 1


def test_the_step_chart_has_a_count_axis_dated_ticks_and_hover_values():
    html = kind_chart({"payment_failed": [1, 0, 7] * 10, "refund": [0, 2, 0] * 10}, days(30), "day")
    assert re.findall(r'<text class="tick"[^>]*text-anchor="end">(\d+)</text>', html)[:5] == [
        "0", "2", "4", "6", "8",
    ]  # fmt: skip
    dated = re.findall(r'<text class="tick"[^>]*>(\d+ Jan)</text>', html)
    assert dated[0] == "1 Jan" and dated[-1] == "30 Jan" and 3 <= len(dated) <= 7
    titles = re.findall(r'<rect class="hover-band"[^>]*><title>([^<]+)</title>', html)
    assert len(titles) == 30
    assert titles[2] == "3 Jan: Payment failed 7, Refund 0"


def test_the_step_chart_has_its_values_as_a_table():
    html = kind_chart({"payment_failed": [1, 0, 2]}, days(3), "day")
    table = html[html.index('<details class="chart-table">') :]
    assert '<th scope="row">3 Jan</th><td class="num">2</td>' in table


def test_revenue_charts_label_their_axis_in_money_and_tell_values_on_hover():
    line = mrr_line(days(3), [10000, 12000, 9000], "eur", "day")
    assert "€0.00" in line and re.search(r">€1[0-9]{2}\.00</text>", line)
    assert "<title>2 Jan: MRR €120.00</title>" in line
    bars = movement_bars(days(2), [{"new": 4900}, {"churn_voluntary": -9900}], "eur", "day")
    assert "<title>2 Jan: Churn, voluntary -€99.00</title>" in bars
    assert '<g class="series series-movement-churn_voluntary">' in bars
