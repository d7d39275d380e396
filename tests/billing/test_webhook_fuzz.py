"""No input, however malformed, gets a 500 from the webhook endpoint (Hypothesis)."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import StripeEvent
from billing.pipeline.ingest import without_nul
from tests.billing.pipeline_helpers import SECRET, connection_with_secret
from tests.stripe_corpus import CORPUS
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


def _corpus_bodies() -> list[bytes]:
    bodies = []
    for path in sorted(CORPUS.glob("*.json"))[:40]:
        payload = json.loads(path.read_text())
        if isinstance(payload, dict) and payload.get("object") == "event":
            payload["livemode"] = False
            bodies.append(json.dumps(payload).encode())
    return bodies or [
        json.dumps({"id": "evt_x", "object": "event", "type": "x", "created": 1}).encode()
    ]


REAL = _corpus_bodies()


@st.composite
def mutated_events(draw):
    """A real Stripe event, then truncated, bit-flipped, nested, NUL-laden or spliced."""
    body = bytearray(draw(st.sampled_from(REAL)))
    body = body.replace(b'"evt_', b'"evt_' + draw(st.text("abc123", max_size=6)).encode(), 1)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "nul", "nest", "delete"]))
        at = draw(st.integers(0, max(len(body) - 1, 0)))
        if kind == "truncate":
            del body[at:]
        elif kind == "flip" and body:
            body[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            body[at:at] = draw(
                st.sampled_from([b"\\u0000", b"\x00", b"{", b"[", b'"', b"\\", b"\xff"])
            )
        elif kind == "nul":
            body = bytearray(
                body.replace(b'"object"', b'"obj\\u0000ect"', 1).replace(b'": "', b'": "\\u0000', 3)
            )
        elif kind == "nest":
            depth = draw(st.sampled_from([10, 500, 3000, 20000]))
            body = bytearray(
                body.replace(
                    b'"data": {', b'"data": ' + b"[" * depth + b"]" * depth + b', "x": {', 1
                )
            )
        elif kind == "delete":
            del body[at : at + draw(st.integers(1, 40))]
    return bytes(body)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=mutated_events(), signed=st.booleans(), skew=st.sampled_from([0, -400, 400, 100]))
def test_no_mutated_real_event_gets_a_5xx(client, workspace, body, signed, skew):
    connection = connection_with_secret(workspace)
    kwargs = {}
    if signed:
        kwargs["HTTP_STRIPE_SIGNATURE"] = sign_payload(body, SECRET, int(time.time()) + skew)
    response = client.post(
        connection.webhook_path(), data=body, content_type="application/json", **kwargs
    )
    assert response.status_code in (200, 400), (response.status_code, response.content)
    if response.status_code == 200:
        # Stored as the endpoint stores it: NUL stripped from values and keys ("i\u0000d").
        stripe_id = without_nul(json.loads(body))["id"]
        assert StripeEvent.objects.filter(workspace=workspace, stripe_id=stripe_id).count() == 1
