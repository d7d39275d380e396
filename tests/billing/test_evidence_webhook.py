"""PostHog's webhook destination posting to a source's signed evidence webhook."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import Evidence
from billing.pipeline.evidence_hooks import evidence_hook_create, signature_for
from tests.factories import CustomerFactory

# The default body of PostHog's webhook destination, {"event": "{event}", "person": "{person}"},
# with the event and person globals expanded as PostHog documents them.
POSTHOG_BODY = {
    "event": {
        "uuid": "0193b8f2-6c1e-7d4a-9f1b-2a3c4d5e6f70",
        "event": "report_exported",
        "distinct_id": "ada@example.com",
        "properties": {
            "$current_url": "https://app.example.com/reports/mrr",
            "$browser": "Firefox",
            "$lib": "web",
            "report": "mrr",
        },
        "elements_chain": "",
        "timestamp": "2026-11-30T10:15:00.000Z",
        "url": "https://us.posthog.com/project/1/events/0193b8f2/2026-11-30T10:15:00.000Z",
    },
    "person": {
        "id": "0193b8f2-0000-7000-8000-000000000001",
        "properties": {"email": "ada@example.com", "stripe_customer_id": "cus_ADA"},
        "name": "Ada Lovelace",
        "url": "https://us.posthog.com/project/1/person/ada%40example.com",
    },
}


@pytest.fixture
def source(workspace, admin):
    endpoint, secret = evidence_hook_create(workspace=workspace, source="posthog", actor=admin)
    return endpoint, secret


def deliver(endpoint, body: bytes, signature: str | None):
    headers = {"X-Custory-Signature": signature} if signature else {}
    path = reverse("evidence_webhook", kwargs={"endpoint": endpoint.uuid})
    return Client().post(path, body, content_type="application/json", headers=headers)


def test_a_signed_posthog_event_becomes_evidence_of_its_customer(source, workspace):
    customer = CustomerFactory(workspace=workspace, stripe_id="cus_ADA")
    endpoint, secret = source
    body = json.dumps(POSTHOG_BODY).encode()
    response = deliver(endpoint, body, signature_for(secret, body))
    assert response.status_code == 200
    assert response.json() == {"received": 1, "created": 1}
    item = Evidence.objects.get()
    assert item.customer == customer
    assert (item.source, item.kind, item.client_id) == (
        "posthog",
        "report_exported",
        "0193b8f2-6c1e-7d4a-9f1b-2a3c4d5e6f70",
    )
    assert item.title == "report_exported by Ada Lovelace"
    assert item.properties == {
        "report": "mrr",
        "$current_url": "https://app.example.com/reports/mrr",
        "$browser": "Firefox",
    }
    assert item.url.startswith("https://us.posthog.com/")


def test_a_redelivery_creates_nothing(source, workspace):
    endpoint, secret = source
    body = json.dumps(POSTHOG_BODY).encode()
    deliver(endpoint, body, signature_for(secret, body))
    again = deliver(endpoint, body, signature_for(secret, body))
    assert again.json() == {"received": 1, "created": 0}
    assert Evidence.objects.count() == 1


def test_an_unmatched_customer_is_kept_by_email(source):
    endpoint, secret = source
    payload = json.loads(json.dumps(POSTHOG_BODY))
    payload["person"]["properties"].pop("stripe_customer_id")
    body = json.dumps(payload).encode()
    assert deliver(endpoint, body, signature_for(secret, body)).status_code == 200
    item = Evidence.objects.get()
    assert (item.customer, item.customer_email) == (None, "ada@example.com")


@pytest.mark.parametrize("signature", [None, "sha256=00", "md5=abc"])
def test_a_missing_or_wrong_signature_is_a_400(source, signature):
    endpoint, _ = source
    response = deliver(endpoint, json.dumps(POSTHOG_BODY).encode(), signature)
    assert response.status_code == 400
    assert "X-Custory-Signature" in response.json()["detail"]
    assert not Evidence.objects.exists()


def test_a_body_that_is_not_posthogs_is_a_400(source):
    endpoint, secret = source
    for body in (b"not json", b'{"event": "x"}', json.dumps({"event": {"event": "x"}}).encode()):
        response = deliver(endpoint, body, signature_for(secret, body))
        assert response.status_code == 400, body
        assert response.json()["detail"]


def test_a_replaced_source_answers_410(source, workspace, admin):
    endpoint, secret = source
    evidence_hook_create(workspace=workspace, source="posthog", actor=admin)
    body = json.dumps(POSTHOG_BODY).encode()
    assert deliver(endpoint, body, signature_for(secret, body)).status_code == 410


def test_an_unknown_endpoint_is_a_404(db):
    url = "/hooks/evidence/00000000-0000-0000-0000-000000000000/"
    response = Client().post(url, b"{}", content_type="application/json")
    assert response.status_code == 404


def test_evidence_sources_are_for_admins(api_for, admin, member, workspace):
    url = "/api/v1/workspaces/acme/evidence/sources/"
    assert api_for(member).get(url).status_code == 404
    response = api_for(admin).post(url, {"source": "posthog"}, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["secret"].startswith("evsec_")
    assert "/hooks/evidence/" in response.json()["webhook_url"]
    assert "secret" not in api_for(admin).get(url).json()[0]
