"""No input, however malformed, gets a 500 from the webhook endpoint (Hypothesis)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import StripeEvent
from tests.billing.pipeline_helpers import SECRET, connection_with_secret
from tests.stripe_signing import sign_payload

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
eventish = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=30), st.integers(), st.just("evt_fuzz")),
        "object": st.sampled_from(["event", "invoice", "", None]),
        "type": st.one_of(st.text(max_size=30), st.sampled_from(["invoice.paid", "x.y"])),
        "created": st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
        "data": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    eventish.map(lambda v: json.dumps(v).encode()),
)
headers = st.one_of(st.none(), st.text(max_size=80), st.just("signed"))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, header=headers)
def test_no_input_gets_a_500(client, workspace, body, header):
    connection = connection_with_secret(workspace)
    kwargs = {}
    if header == "signed":
        kwargs["HTTP_STRIPE_SIGNATURE"] = sign_payload(body, SECRET)
    elif header is not None:
        kwargs["HTTP_STRIPE_SIGNATURE"] = header.encode("utf-8", "replace").decode("latin-1")
    response = client.post(
        connection.webhook_path(), data=body, content_type="application/json", **kwargs
    )
    assert response.status_code in (200, 400), (response.status_code, response.content)
    if response.status_code == 400:
        assert response.content.count(b"\n") == 1
    else:
        stripe_id = json.loads(body)["id"]
        assert StripeEvent.objects.filter(workspace=workspace, stripe_id=stripe_id).count() == 1
