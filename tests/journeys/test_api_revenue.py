"""The REST API's revenue figures: the metrics command's JSON, same keys, same values."""

import json
from io import StringIO

from django.core.management import call_command

from tests.billing.test_metrics_command import EXPECTED, june_history

URL = "/api/v1/workspaces/acme/metrics/revenue/"
JUNE = {"from": "2026-06-01", "to": "2026-06-30"}


def command_json(slug: str, *args: str) -> dict:
    out = StringIO()
    call_command("metrics", slug, *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_it_answers_the_metrics_commands_json(api_for, support, workspace):
    june_history(workspace)
    response = api_for(support, "read").get(URL, JUNE)
    assert response.status_code == 200
    body = response.json()
    assert body == EXPECTED
    assert body == command_json("acme", "--from", "2026-06-01", "--to", "2026-06-30")


def test_without_dates_it_is_the_last_30_days_as_the_command(api_for, member, workspace):
    june_history(workspace)
    body = api_for(member, "read").get(URL).json()
    assert body == command_json("acme")
    assert list(body) == list(EXPECTED)


def test_bad_dates_are_a_400_naming_the_parameter(api_for, member, workspace):
    client = api_for(member, "read")
    wrong_day = client.get(URL, {"from": "2026-02-30"})
    assert wrong_day.status_code == 400
    assert "from" in wrong_day.json()
    backwards = client.get(URL, {"from": "2026-07-01", "to": "2026-06-01"})
    assert backwards.status_code == 400
    assert backwards.json()["from"] == ["The first day must not be after the last day."]


def test_it_checks_workspace(api_for, outsider, other_workspace, workspace):
    june_history(workspace)
    response = api_for(outsider, "read", for_workspace=other_workspace).get(URL, JUNE)
    assert response.status_code == 404


def test_it_needs_credentials(client, workspace):
    assert client.get(URL).status_code == 401


def test_the_schema_describes_the_figures_with_the_commands_keys(client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/workspaces/{slug}/metrics/revenue/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(component["properties"]) == set(EXPECTED)
    money = schema["components"]["schemas"]["Money"]["properties"]
    assert set(money) == {"total", "by_currency"}
