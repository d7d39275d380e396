"""Board cards: one reporting-currency figure per line, the per-currency parts one keypress away."""

import re
from decimal import Decimal

from billing.revenue_models import ExchangeRate, RevenueSettings
from tests.dashboard_data import add_signal, default_journey


def card_html(html: str, step) -> str:
    start = html.index(f'data-step="{step.uuid}"')
    return html[start : html.index("</article>", start)]


def test_a_card_line_shows_one_converted_figure_with_its_parts_on_demand(
    client_for, member, workspace
):
    step = default_journey(workspace).steps.get(name="Recurring payment")
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="eur")
    ExchangeRate.objects.create(day="2020-01-01", currency="usd", per_eur=Decimal("2"))
    add_signal(workspace, "payment_failed", amount=1000, currency="eur")
    add_signal(workspace, "payment_failed", amount=2000, currency="usd")
    html = card_html(client_for(member).get("/w/acme/?period=30").content.decode(), step)
    line = re.search(r'<span class="amt">(.*?)</span>\s*</li>', html, re.S).group(1)
    # €10.00 + $20.00 at 2 USD per EUR: one figure in the summary, the parts in the disclosure.
    assert re.search(r'<details class="money"><summary>€20.00</summary>', line)
    assert re.search(r'<span class="muted">€10.00 · \$20.00</span></details>', line)


def test_a_single_currency_line_needs_no_disclosure(client_for, member, workspace):
    step = default_journey(workspace).steps.get(name="Recurring payment")
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="eur")
    add_signal(workspace, "payment_failed", amount=1000, currency="eur")
    html = card_html(client_for(member).get("/w/acme/?period=30").content.decode(), step)
    assert '<span class="amt">€10.00</span>' in re.sub(r"\s+(?=<|€)", "", html)
    assert "<details" not in html


def test_without_any_rate_the_parts_are_shown_as_they_are(client_for, member, workspace):
    step = default_journey(workspace).steps.get(name="Recurring payment")
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="usd")
    add_signal(workspace, "payment_failed", amount=1000, currency="eur")
    html = card_html(client_for(member).get("/w/acme/?period=30").content.decode(), step)
    assert "€10.00" in html and "$0.00" not in html


def test_where_money_is_lost_names_each_step_with_one_figure(client_for, member, workspace):
    default_journey(workspace)
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="eur")
    ExchangeRate.objects.create(day="2020-01-01", currency="usd", per_eur=Decimal("2"))
    add_signal(workspace, "checkout_abandoned", amount=1000, currency="eur")
    add_signal(workspace, "checkout_abandoned", amount=2000, currency="usd")
    html = client_for(member).get("/w/acme/?period=30").content.decode()
    losses = html[
        html.index('id="losses-h"') : html.index("</section>", html.index('id="losses-h"'))
    ]
    assert re.search(r"<strong><details class=\"money\"><summary>€20.00</summary>", losses)


def test_where_money_is_lost_ranks_steps_by_their_converted_total(client_for, member, workspace):
    default_journey(workspace)
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="usd")
    ExchangeRate.objects.create(day="2020-01-01", currency="usd", per_eur=Decimal("1"))
    ExchangeRate.objects.create(day="2020-01-01", currency="jpy", per_eur=Decimal("160"))
    # More JPY signals make JPY the board's first currency; still ¥50,000 ($312.50) is less
    # than $495.00, and $495.00 less than ¥100,000 ($625.00).
    for _ in range(3):
        add_signal(workspace, "refund", amount=50000 // 3, currency="jpy")
    add_signal(workspace, "dispute_opened", amount=49500, currency="usd")
    add_signal(workspace, "checkout_abandoned", amount=100000, currency="jpy")
    board = client_for(member).get("/w/acme/?period=30").context["board"]
    ranked = [(card.step.name, card.loss_money.total) for card, _ in board.losses]
    assert [total for _, total in ranked] == [62500, 49500, 31249]
    assert ranked[0][0] == "Checkout"
