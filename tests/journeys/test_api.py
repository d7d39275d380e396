"""The journeys layer's API: signals, customers, journeys and steps, metrics, evidence, mapping."""

from datetime import timedelta

from django.utils import timezone

from billing.models import Evidence, SignalKind
from journeys.models import EvidenceRule, MappingRule
from tests.dashboard_data import add_signal, default_journey, mixed_history
from tests.factories import CustomerFactory

BASE = "/api/v1/workspaces/acme/"


def step_named(workspace, name):
    return default_journey(workspace).steps.get(name=name)


def test_it_lists_failed_payments_of_a_step(api_for, support, workspace):
    mixed_history(workspace)
    step = step_named(workspace, "Recurring payment")
    response = api_for(support, "read").get(
        BASE + "signals/", {"step": str(step.uuid), "kind": "payment_failed", "period": "30"}
    )
    assert response.status_code == 200
    body = response.json()
    assert {s["kind"] for s in body["results"]} == {"payment_failed"}
    assert sorted(s["details"].get("decline_code", "") for s in body["results"]) == [
        "",
        "do_not_honor",
        "expired_card",
        "insufficient_funds",
    ]
    assert body["results"][0]["occurred_at"] > body["results"][-1]["occurred_at"]


def test_signals_use_the_ui_filters(api_for, member, workspace):
    mixed_history(workspace)
    client = api_for(member)
    names = client.get(BASE + "signals/", {"customer": "alice", "kind": "payment_failed"}).json()
    assert {s["customer"]["name"] for s in names["results"]} == {"Alice Ltd"}
    codes = client.get(BASE + "signals/", {"decline_code": "expired_card"}).json()["results"]
    assert [s["details"]["decline_code"] for s in codes] == ["expired_card"]


def test_signals_are_cursor_paginated(api_for, member, workspace):
    default_journey(workspace)
    for i in range(7):
        add_signal(workspace, SignalKind.PAYMENT_FAILED, days_ago=i + 1)
    client = api_for(member)
    first = client.get(BASE + "signals/", {"limit": 5}).json()
    assert len(first["results"]) == 5 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None
    ids = [s["id"] for s in first["results"] + second["results"]]
    assert len(set(ids)) == 7


def test_a_wrong_filter_is_a_400_naming_it(api_for, member, workspace):
    response = api_for(member).get(BASE + "signals/", {"period": "custom", "start": "2026-01-01"})
    assert response.status_code == 400
    assert "custom period needs both dates" in str(response.json())
    response = api_for(member).get(BASE + "signals/", {"sort": "-amount"})
    assert response.status_code == 400 and "sort" in response.json()


def test_a_signal_shows_the_evidence_before_it(api_for, member, workspace):
    default_journey(workspace)
    customer = CustomerFactory(workspace=workspace, stripe_id="cus_ADA", email="ada@example.com")
    signal = add_signal(workspace, SignalKind.PAYMENT_FAILED, days_ago=1, customer=customer)
    client = api_for(member)
    items = [
        {
            "customer": "cus_ADA",
            "source": "zendesk",
            "kind": "ticket_opened",
            "title": f"Ticket {n}",
            "occurred_at": (signal.occurred_at - timedelta(days=n + 2)).isoformat(),
            "client_id": f"t{n}",
        }
        for n in range(3)
    ] + [
        {
            "customer": "ADA@example.com",
            "source": "app",
            "kind": "login",
            "title": "Signed in",
            "occurred_at": (signal.occurred_at - timedelta(days=24, hours=1)).isoformat(),
            "client_id": "l1",
        }
    ]
    response = client.post(BASE + "evidence/", {"items": items}, content_type="application/json")
    assert response.status_code == 201, response.json()
    detail = client.get(BASE + f"signals/{signal.uuid}/").json()
    assert detail["evidence_before_text"] == (
        "Before this: 3 × ticket opened (last 2 days before), 1 × login (last 24 days before)"
    )
    assert [p["step"] for p in detail["placements"]] == ["Recurring payment"]
    page = client.get(signal.get_absolute_url())  # the token does not sign in the browser
    assert page.status_code == 302


def test_evidence_batches_are_idempotent_on_the_client_id(api_for, member, workspace):
    CustomerFactory(workspace=workspace, stripe_id="cus_ADA")
    item = {
        "customer": "cus_ADA",
        "source": "posthog",
        "kind": "feature_used",
        "title": "Exported a report",
        "url": "https://app.example.com/reports",
        "occurred_at": "2026-11-30T10:00:00Z",
        "properties": {"report": "mrr"},
        "client_id": "evt-1",
    }
    client = api_for(member)
    first = client.post(BASE + "evidence/", {"items": [item]}, content_type="application/json")
    assert first.status_code == 201
    assert first.json() == {"received": 1, "created": 1, "duplicates": 0}
    again = client.post(BASE + "evidence/", {"items": [item]}, content_type="application/json")
    assert again.status_code == 200
    assert again.json() == {"received": 1, "created": 0, "duplicates": 1}
    assert Evidence.objects.get().customer.stripe_id == "cus_ADA"


def test_evidence_is_validated_with_clear_messages(api_for, member, workspace):
    client = api_for(member)
    bad = {
        "customer": "somebody",
        "source": "app",
        "kind": "login",
        "title": "x",
        "occurred_at": "2026-11-30T10:00:00Z",
        "client_id": "1",
    }
    response = client.post(BASE + "evidence/", {"items": [bad]}, content_type="application/json")
    assert response.status_code == 400
    assert "Stripe customer id (cus_…) or an email" in str(response.json())
    bad.update(customer="a@b.c", properties={"x": "y" * 20000})
    response = client.post(BASE + "evidence/", {"items": [bad]}, content_type="application/json")
    assert response.status_code == 400 and "16 KiB" in str(response.json())


def test_posted_evidence_shows_on_the_customer_page(api_for, client_for, member, workspace):
    customer = CustomerFactory(workspace=workspace, stripe_id="cus_ADA")
    item = {
        "customer": "cus_ADA",
        "source": "intercom",
        "kind": "conversation",
        "title": "Asked how to update a card",
        "occurred_at": timezone.now().isoformat(),
        "client_id": "c-1",
    }
    api_for(member).post(BASE + "evidence/", {"items": [item]}, content_type="application/json")
    html = client_for(member).get(customer.get_absolute_url()).content.decode()
    assert "Asked how to update a card" in html
    body = api_for(member).get(BASE + f"customers/{customer.uuid}/").json()
    assert [e["type"] for e in body["timeline"]] == ["evidence"]


def test_customers_search_and_detail(api_for, support, workspace):
    mixed_history(workspace)
    client = api_for(support, "read")
    found = client.get(BASE + "customers/", {"q": "alice"}).json()["results"]
    assert [c["name"] for c in found] == ["Alice Ltd"]
    detail = client.get(BASE + f"customers/{found[0]['id']}/").json()
    assert {e["signal"]["kind"] for e in detail["timeline"]} >= {"payment_failed"}
    assert any(s["step"] == "Recurring payment" for s in detail["steps"])


def test_a_journey_has_its_steps_figures_for_a_period(api_for, support, workspace):
    mixed_history(workspace)
    client = api_for(support, "read")
    journeys = client.get(BASE + "journeys/").json()
    assert len(journeys) == 1 and journeys[0]["stages"][0]["steps"]
    body = client.get(BASE + f"journeys/{journeys[0]['id']}/", {"period": "7"}).json()
    steps = {step["name"]: step for stage in body["stages"] for step in stage["steps"]}
    failed = {k["kind"]: k for k in steps["Recurring payment"]["kinds"]}["payment_failed"]
    assert failed["count"] == 3
    assert failed["amounts"] == {"eur": 14800, "jpy": 5000}
    assert body["period"]["days"] == 7


def test_a_step_has_its_figures_and_mapped_evidence(api_for, member, workspace):
    mixed_history(workspace)
    step = step_named(workspace, "Recurring payment")
    client = api_for(member)
    rule = client.post(
        BASE + f"journeys/{step.journey.uuid}/evidence-rules/",
        {"step": str(step.uuid), "kind": "ticket_opened"},
        content_type="application/json",
    )
    assert rule.status_code == 201
    item = {
        "customer": "alice@example.org",
        "source": "zendesk",
        "kind": "ticket_opened",
        "title": "Card declined",
        "occurred_at": timezone.now().isoformat(),
        "client_id": "z-1",
    }
    client.post(BASE + "evidence/", {"items": [item]}, content_type="application/json")
    body = client.get(BASE + f"steps/{step.uuid}/").json()
    assert body["evidence"] == [{"source": "zendesk", "kind": "ticket_opened", "count": 1}]
    assert body["recovery_rate"]["eur"] > 0
    assert body["median_hours_to_recover"] == 35.0


def test_the_step_page_shows_its_mapped_evidence(client_for, member, workspace):
    default_journey(workspace)
    step = step_named(workspace, "Recurring payment")
    EvidenceRule.objects.create(
        workspace=workspace, journey=step.journey, step=step, kind="ticket_opened"
    )
    Evidence.objects.create(
        workspace=workspace,
        source="zendesk",
        kind="ticket_opened",
        title="Where is my invoice?",
        occurred_at=timezone.now() - timedelta(days=1),
        client_id="z-9",
    )
    html = client_for(member).get(step.get_absolute_url()).content.decode()
    assert "Product behaviour on this step" in html and "Where is my invoice?" in html


def test_metrics_are_the_boards_figures(api_for, support, workspace):
    mixed_history(workspace)
    body = api_for(support, "read").get(BASE + "metrics/", {"period": "30"}).json()
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert kinds["payment_failed"]["count"] == 4
    assert body["currencies"][0] == "eur"
    assert body["recovery_rate"]["eur"] > 0
    assert body["mrr"]["churn_voluntary"] == {"eur": -9900}


def test_mapping_rules_are_read_by_all_and_written_by_members(api_for, support, member, workspace):
    journey = default_journey(workspace)
    step = journey.steps.get(name="Recurring payment")
    url = BASE + f"journeys/{journey.uuid}/rules/"
    assert (
        len(api_for(support).get(url).json()) == MappingRule.objects.filter(journey=journey).count()
    )
    new = {
        "kinds": ["refund"],
        "step": str(step.uuid),
        "conditions": {"amount_min": 10000, "currency": "eur"},
    }
    denied = api_for(support).post(url, new, content_type="application/json")
    assert denied.status_code == 403
    created = api_for(member).post(url, new, content_type="application/json")
    assert created.status_code == 201, created.json()
    rule_url = url + created.json()["id"] + "/"
    changed = api_for(member).patch(rule_url, {"enabled": False}, content_type="application/json")
    assert changed.json()["enabled"] is False
    assert api_for(member).delete(rule_url).status_code == 204


def test_a_mapping_rule_with_bad_conditions_is_a_400(api_for, member, workspace):
    journey = default_journey(workspace)
    step = journey.steps.first()
    response = api_for(member).post(
        BASE + f"journeys/{journey.uuid}/rules/",
        {"kinds": ["refund"], "step": str(step.uuid), "conditions": {"colour": "red"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "conditions" in response.json()


def test_evidence_is_listed_by_customer_and_kind(api_for, support, workspace):
    customer = CustomerFactory(workspace=workspace, stripe_id="cus_ADA")
    for n, kind in enumerate(["login", "login", "nps"]):
        Evidence.objects.create(
            workspace=workspace,
            customer=customer,
            source="app",
            kind=kind,
            title=kind,
            occurred_at=timezone.now() - timedelta(days=n),
            client_id=str(n),
        )
    client = api_for(support, "read")
    body = client.get(BASE + "evidence/", {"customer": "cus_ADA", "kind": "login"}).json()
    assert [e["client_id"] for e in body["results"]] == ["0", "1"]


def test_null_characters_are_a_400_not_a_database_error(api_for, member, workspace):
    client = api_for(member)
    assert client.get(BASE + "evidence/", {"kind": "lo\x00gin"}).status_code == 400
    item = {
        "customer": "a@b.c",
        "source": "app",
        "kind": "login",
        "title": "x",
        "occurred_at": "2026-11-30T10:00:00Z",
        "client_id": "1",
        "properties": {"note": "a\x00b"},
    }
    response = client.post(BASE + "evidence/", {"items": [item]}, content_type="application/json")
    assert response.status_code == 400 and "null characters" in str(response.json()).lower()


def test_forty_signals_are_listed_in_a_handful_of_queries(
    api_for, member, workspace, django_assert_max_num_queries
):
    default_journey(workspace)
    client = api_for(member)
    for n in range(40):
        add_signal(workspace, SignalKind.PAYMENT_FAILED, days_ago=1 + n % 9)
    with django_assert_max_num_queries(8):
        assert len(client.get(BASE + "signals/", {"limit": 40}).json()["results"]) == 40


def test_a_huge_priority_is_a_400(api_for, member, workspace):
    journey = default_journey(workspace)
    rule = journey.mapping_rules.first()
    response = api_for(member).patch(
        BASE + f"journeys/{journey.uuid}/rules/{rule.uuid}/",
        {"priority": 14737690574285131776},
        content_type="application/json",
    )
    assert response.status_code == 400 and "priority" in response.json()
