"""A step page: meaningful chart colours, the kind filter on every figure, honest labels."""

import re
from datetime import date, timedelta

from django.conf import settings

from billing.models import SignalKind
from billing.templatetags.billing_tags import kind_chart
from journeys.services import journey_install_default
from tests.dashboard_data import default_journey, mixed_history

K = SignalKind


def series_colour(css_class: str) -> str:
    """The colour a series class draws in: its token in custory.css, looked up in tokens.css."""
    css = (settings.BASE_DIR / "static" / "css" / "custory.css").read_text()
    tokens = (settings.BASE_DIR / "static" / "css" / "tokens.css").read_text()
    rule = re.search(rf"\.{css_class}\b[^{{]*{{ color: var\(--([a-z-]+)\); }}", css)
    return re.search(rf"--{rule.group(1)}: (#[0-9a-f]{{6}})", tokens).group(1)


def strokes(html: str) -> dict[str, str]:
    """Legend label → its line colour, read from the rendered chart and the stylesheets."""
    legend = r'<li><svg class="series (series-[a-z_]+)"[^>]*><line [^>]*/>.*?</svg> ([^(<]+) \('
    pairs = re.findall(legend, html)
    return {label.strip(): series_colour(css_class) for css_class, label in pairs}


def test_failed_payments_are_drawn_in_red_and_successful_ones_in_green():
    buckets = [date(2026, 1, 1) + timedelta(days=i) for i in range(3)]
    # More successes than failures: the busiest series used to take the first (red) colour.
    html = kind_chart({K.PAYMENT_SUCCEEDED: [5, 6, 7], K.PAYMENT_FAILED: [1, 0, 2]}, buckets, "day")
    colors = strokes(html)
    assert colors["Payment failed"] == "#b3261e"
    assert colors["Payment succeeded"] == "#1d7a3a"


def test_the_kind_filter_narrows_the_chart_and_by_kind(client_for, member, workspace):
    mixed_history(workspace)
    step = default_journey(workspace).steps.get(name="Recurring payment")
    response = client_for(member).get(step.get_absolute_url() + "?period=30&kind=payment_failed")
    stats = response.context["stats"]
    assert [k.kind for k in stats.kinds] == [K.PAYMENT_FAILED]
    assert set(stats.series) == {K.PAYMENT_FAILED}


def test_the_recovery_card_names_the_journey_it_counts_over(client_for, member, workspace):
    mixed_history(workspace)
    journey = default_journey(workspace)
    step = journey.steps.get(name="Recurring payment")
    html = client_for(member).get(step.get_absolute_url()).content.decode()
    assert "whole journey" not in html
    assert f'Recovery rate <small class="muted">in {journey.name}</small>' in html


def test_the_default_journey_has_only_steps_a_stripe_signal_can_reach(workspace):
    journey = journey_install_default(workspace=workspace)
    fed = {rule.step.name for rule in journey.mapping_rules.select_related("step")}
    assert {step.name for step in journey.steps.all()} == fed
