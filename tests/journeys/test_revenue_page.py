"""The Revenue page: headline figures, MRR over time and movements with tables and CSVs."""

import csv
import io
from decimal import Decimal

from billing.exchange import reporting_currency
from billing.revenue_models import ExchangeRate, RevenueSettings
from billing.revenue_services import account_currency_record
from custory.models import AuditEvent
from tests.dashboard_data import mixed_history


def test_it_works(client_for, support, workspace):
    mixed_history(workspace)
    response = client_for(support).get("/w/acme/revenue/?period=30")
    assert response.status_code == 200
    html = response.content.decode()
    assert "MRR over time" in html and 'role="img"' in html
    assert "<table" in html and "Download CSV" in html
    page = response.context["page"]
    assert page.unit == "day" and len(page.rows) == 30
    # The line ends where the movements leave it, and the bars add up to the change.
    first, last = page.rows[0], page.rows[-1]
    moved = sum(m.total for row in page.rows for m in row.movements.values())
    before = page.headline.mrr_start.total
    assert last.mrr.total == page.headline.mrr.total == before + moved
    assert first.start < last.start


def test_it_checks_workspace(client_for, outsider, workspace):
    assert client_for(outsider).get("/w/acme/revenue/").status_code == 404
    assert client_for(outsider).get("/w/acme/revenue/mrr.csv").status_code == 404


def test_the_tables_come_as_csv(client_for, member, workspace):
    mixed_history(workspace)
    client = client_for(member)
    rows = list(
        csv.reader(io.StringIO(client.get("/w/acme/revenue/mrr.csv?period=7").content.decode()))
    )
    assert rows[0][:2] == ["day", "mrr_USD"] and len(rows) == 8
    movements = client.get("/w/acme/revenue/movements.csv?period=7").content.decode()
    assert "churn_voluntary" in movements.splitlines()[1:][3]
    assert client.get("/w/acme/revenue/other.csv").status_code == 404


def test_totals_are_converted_to_the_reporting_currency(client_for, member, workspace):
    mixed_history(workspace)
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="eur")
    ExchangeRate.objects.create(day="2020-01-01", currency="jpy", per_eur=Decimal("100"))
    page = client_for(member).get("/w/acme/revenue/?period=30").context["page"]
    mrr = page.headline.mrr
    assert mrr.currency == "eur"
    assert mrr.total == mrr.by_currency.get("eur", 0) + mrr.by_currency.get("jpy", 0)


def test_revenue_settings_work_for_admins_and_audit(client_for, admin, workspace):
    client = client_for(admin)
    assert client.get("/w/acme/settings/revenue/").status_code == 200
    response = client.post(
        "/w/acme/settings/revenue/",
        {"reporting_currency": "eur", "count_trials_from_start": "on"},
    )
    assert response.status_code == 302
    saved = RevenueSettings.objects.get(workspace=workspace)
    assert saved.reporting_currency == "eur" and saved.count_trials_from_start
    assert AuditEvent.objects.filter(action="revenue.settings_update").exists()
    assert (
        client.post("/w/acme/settings/revenue/", {"reporting_currency": "xxx"}).status_code == 200
    )


def test_revenue_settings_check_role(client_for, member, outsider, workspace):
    assert client_for(member).get("/w/acme/settings/revenue/").status_code == 404
    assert client_for(outsider).get("/w/acme/settings/revenue/").status_code == 404


def test_the_reporting_currency_defaults_to_the_accounts_then_usd(workspace):
    assert reporting_currency(workspace) == "usd"
    account_currency_record(workspace=workspace, currency="GBP")
    assert reporting_currency(workspace) == "gbp"
