"""The OpenAPI schema, checked against the running API by Schemathesis (runs in CI with the suite).

Every operation is exercised as a write-token admin of `acme`: no server errors, documented status
codes and content types, and bodies that conform to the schema. Detail operations get the id of
a real object, so their 200 answers are checked too, not only their 404s.
"""

import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from billing.models import Evidence, SignalKind
from custory.services import api_token_create
from journeys.models import EvidenceRule
from tests.dashboard_data import add_signal, default_journey
from tests.factories import CustomerFactory, FollowUpTaskFactory, TaskRuleFactory

IDS = {
    name: uuid.UUID(int=n + 1)
    for n, name in enumerate(
        ["signal", "customer", "journey", "step", "rule", "evidence_rule", "task", "task_rule"]
    )
}
EVENT_ID = 424242
MAX_EXAMPLES = 8


def _on(path_regex: str, **parameters) -> dict:
    return {"include-path-regex": path_regex, "parameters": parameters}


CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES},
        # The schema's examples and random fuzzing; the exhaustive coverage phase (every boundary
        # of every parameter) takes minutes on CI's shared cores for little more.
        "phases": {"coverage": {"enabled": False}},
        # The API is lenient where the UI is (an invalid `limit` falls back to 50), and valid
        # ids of missing objects are 400s or 404s: those two checks judge intent, not conformance.
        "checks": {
            "negative_data_rejection": {"enabled": False},
            "positive_data_acceptance": {"enabled": False},
        },
        "parameters": {"path.slug": "acme", "path.journey": str(IDS["journey"])},
        "operations": [
            _on(r"/signals/\{uuid\}/$", **{"path.uuid": str(IDS["signal"])}),
            _on(r"/customers/\{uuid\}/$", **{"path.uuid": str(IDS["customer"])}),
            _on(r"/journeys/\{uuid\}/$", **{"path.uuid": str(IDS["journey"])}),
            _on(r"/steps/\{uuid\}/$", **{"path.uuid": str(IDS["step"])}),
            _on(r"/rules/\{uuid\}/$", **{"path.uuid": str(IDS["rule"])}),
            _on(r"/evidence-rules/\{uuid\}/$", **{"path.uuid": str(IDS["evidence_rule"])}),
            _on(r"/tasks/\{uuid\}/", **{"path.uuid": str(IDS["task"])}),
            _on(r"/task-rules/\{uuid\}/$", **{"path.uuid": str(IDS["task_rule"])}),
            _on(r"/events/\{event_id\}/$", **{"path.event_id": EVENT_ID}),
        ],
    }
)

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", get_wsgi_application(), config=CONFIG
)


@pytest.fixture
def keep_connection():
    """Keep the test's connection across WSGI requests, as Django's test Client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_data(workspace, admin, keep_connection):
    """One object behind every detail operation, with the ids the config sends."""
    journey = default_journey(workspace)
    journey.uuid = IDS["journey"]
    journey.save(update_fields=["uuid"])
    step = journey.steps.get(name="Recurring payment")
    step.uuid = IDS["step"]
    step.save(update_fields=["uuid"])
    rule = journey.mapping_rules.first()
    rule.uuid = IDS["rule"]
    rule.save(update_fields=["uuid"])
    customer = CustomerFactory(workspace=workspace, uuid=IDS["customer"], stripe_id="cus_ADA")
    signal = add_signal(workspace, SignalKind.PAYMENT_FAILED, customer=customer)
    signal.uuid = IDS["signal"]
    signal.save(update_fields=["uuid"])
    event = signal.event
    event.pk, event.stripe_id = EVENT_ID, "evt_schema"
    event.save()
    EvidenceRule.objects.create(
        workspace=workspace, journey=journey, step=step, kind="login", uuid=IDS["evidence_rule"]
    )
    Evidence.objects.create(
        workspace=workspace,
        customer=customer,
        source="app",
        kind="login",
        title="Signed in",
        occurred_at=timezone.now(),
        client_id="l-1",
    )
    FollowUpTaskFactory(workspace=workspace, uuid=IDS["task"], signal=signal, customer=customer)
    TaskRuleFactory(workspace=workspace, uuid=IDS["task_rule"])
    _, key = api_token_create(workspace=workspace, user=admin, name="schemathesis", scope="write")
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.slow
@schema.parametrize()
# The fixture's rows are meant to outlive each example: every example runs against them.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_api_conforms_to_its_schema(case, api_data):
    case.call_and_validate(headers=api_data)


def test_the_schema_describes_every_endpoint_with_a_summary(db):
    spec = Client().get("/api/schema/?format=json").json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert len(operations) >= 30
    assert all(op.get("summary") for op in operations)
    assert spec["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_the_docs_page_uses_vendored_assets(db):
    html = Client().get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
