"""PostgreSQL stores event payloads compressed with lz4 (migration 0018), and reads them back."""

import pytest
from django.db import connection

from billing.models import StripeEvent
from billing.pipeline.ingest import events_store
from tests.factories import StripeConnectionFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="column compression is PostgreSQL's"
)


def test_event_payloads_are_compressed_with_lz4_and_read_back_whole(db):
    stripe_connection = StripeConnectionFactory()
    payload = {
        "id": "evt_Compressed",
        "object": "event",
        "type": "customer.created",
        "created": 1764003600,
        "data": {"object": {"id": "cus_Long", "object": "customer", "description": "x" * 8000}},
    }
    events_store(connection=stripe_connection, payloads=[payload], source="webhook", wake=False)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attcompression, pg_column_compression(e.payload) FROM pg_attribute a, "
            "billing_stripeevent e WHERE a.attrelid = 'billing_stripeevent'::regclass "
            "AND a.attname = 'payload' AND e.stripe_id = %s",
            ["evt_Compressed"],
        )
        assert cursor.fetchone() == ("l", "lz4")
    assert StripeEvent.objects.get(stripe_id="evt_Compressed").payload == payload
