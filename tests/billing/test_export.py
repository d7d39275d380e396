"""CSV export of the filtered signals, streamed."""

import csv
import io

from django.http import StreamingHttpResponse

from tests.dashboard_data import mixed_history


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
