"""CSV export of the filtered signals, streamed."""

import csv
import io

import pytest
from django.http import StreamingHttpResponse

from custory.spreadsheet import csv_cell
from tests.dashboard_data import add_signal, mixed_history
from tests.factories import CustomerFactory


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_export_streams_the_filtered_set(client_for, support, workspace):
    mixed_history(workspace)
    response = client_for(support).get("/w/acme/signals/export.csv?kind=payment_failed&mode=live")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = read_csv(response)
    assert sorted((r["amount"], r["currency"]) for r in rows) == [
        ("15.00", "USD"),
        ("49.00", "EUR"),
        ("49.00", "EUR"),
        ("5000", "JPY"),
        ("99.00", "EUR"),
    ]
    assert {r["livemode"] for r in rows} == {"live"}


def test_the_export_keeps_the_list_filters(client_for, member, workspace):
    mixed_history(workspace)
    rows = read_csv(client_for(member).get("/w/acme/signals/export.csv?decline_code=expired_card"))
    assert [(r["customer_email"], r["decline_code"]) for r in rows] == [
        ("bob@example.org", "expired_card")
    ]


def test_it_checks_workspace(client_for, outsider, workspace):
    mixed_history(workspace)
    assert client_for(outsider).get("/w/acme/signals/export.csv").status_code == 404


FORMULAS = ["=HYPERLINK(1)", "+1+cmd", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\tx=1", "\r=1"]


def test_every_formula_start_in_a_customer_name_reaches_the_sheet_as_text(
    client_for, member, workspace
):
    for index, name in enumerate(FORMULAS):
        customer = CustomerFactory(workspace=workspace, name=name, email=f"c{index}@example.org")
        add_signal(workspace, "payment_failed", customer=customer, amount=100, currency="eur")
    rows = read_csv(client_for(member).get("/w/acme/signals/export.csv?kind=payment_failed"))
    names = {r["customer_email"]: r["customer_name"] for r in rows}
    assert [names[f"c{i}@example.org"] for i in range(len(FORMULAS))] == [
        "'" + name for name in FORMULAS
    ]


def test_negative_amounts_stay_numbers(client_for, member, workspace):
    add_signal(workspace, "plan_downgraded", mrr_delta=-4900, currency="eur")
    rows = read_csv(client_for(member).get("/w/acme/signals/export.csv?kind=plan_downgraded"))
    assert [r["mrr_delta"] for r in rows] == ["-49.00"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1", "'=1"), ("-1+2", "'-1+2"), ("-12.50", "-12.50"), ("a=1", "a=1"), (42, 42), ("", "")],
)
def test_csv_cells_are_neutralised_as_owasp_describes(value, cell):
    assert csv_cell(value) == cell
