"""Every real Stripe payload in the shared corpus goes through the real webhook view, signed as
Stripe signs it, is stored (200), and is then processed (or ignored) without failing."""

import json
import os

import pytest

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import EventStatus, StripeEvent
from tests.billing.pipeline_helpers import connection_with_secret, post_signed
from tests.stripe_corpus import CORPUS

FILES = sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []

pytestmark = [
    pytest.mark.django_db,
    # CI must have the corpus; elsewhere a missing corpus only skips.
    pytest.mark.skipif(
        not FILES and os.environ.get("CI") != "true",
        reason=f"the Stripe event corpus is not at {CORPUS}",
    ),
]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_corpus_event_is_stored_and_processed(
    client, workspace, path, django_capture_on_commit_callbacks
):
    raw = path.read_bytes()  # byte-for-byte as Stripe sent it
    payload = json.loads(raw)
    # A connection in the event's own mode: events of the other mode are refused.
    connection = connection_with_secret(workspace, livemode=payload.get("livemode") is True)
    with django_capture_on_commit_callbacks(execute=True):  # the drain runs after the commit
        response = post_signed(client, connection, raw)
    assert response.status_code == 200, response.content
    event = StripeEvent.objects.get(workspace=workspace, stripe_id=payload["id"])
    assert event.payload == payload
    assert event.type == payload["type"]
    if payload["type"] in PROCESSED_EVENT_TYPES:
        assert event.status == EventStatus.PROCESSED, event.last_error
        assert event.attempts == 1
    else:
        assert event.status == EventStatus.IGNORED
    # A redelivery stores nothing new.
    assert post_signed(client, connection, raw).status_code == 200
    assert StripeEvent.objects.filter(workspace=workspace).count() == 1


def test_the_corpus_is_all_there():
    assert len(FILES) >= 100
