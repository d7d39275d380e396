"""The set-based writes of custory.bulk_sql, on whichever database the suite runs on."""

from datetime import date

import pytest

from billing.models import Customer
from billing.revenue_models import MovementKind, MrrDailyRollup
from custory.bulk_sql import rows_add, rows_update
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_rows_update_saves_only_the_named_fields_of_each_row(workspace):
    first, second = CustomerFactory(workspace=workspace), CustomerFactory(workspace=workspace)
    first.email, first.metadata, first.mrr = "new@example.org", {"plan": "gold"}, 4200
    second.email, second.deleted, second.mrr = "other@example.org", True, 0
    first.name = "not saved"

    rows_update(Customer, [first, second], ["email", "metadata", "deleted", "mrr"])

    first_saved, second_saved = (
        Customer.objects.get(pk=first.pk),
        Customer.objects.get(pk=second.pk),
    )
    assert (first_saved.email, first_saved.metadata, first_saved.mrr) == (
        "new@example.org",
        {"plan": "gold"},
        4200,
    )
    assert first_saved.name != "not saved"
    assert (second_saved.email, second_saved.deleted, second_saved.mrr) == (
        "other@example.org",
        True,
        0,
    )


def test_rows_add_adds_to_stored_rows_and_inserts_the_others(workspace):
    key = {
        "workspace_id": workspace.pk,
        "connection_id": None,  # matched through the unique index's COALESCE
        "livemode": False,
        "day": date(2026, 12, 1),
        "kind": MovementKind.NEW,
        "currency": "usd",
    }
    MrrDailyRollup.objects.create(**key, count=2, amount=100)
    other_day = {**key, "day": date(2026, 12, 2)}

    rows_add(
        MrrDailyRollup,
        [{**key, "count": 1, "amount": -30}, {**other_day, "count": 3, "amount": 900}],
        conflict="(workspace_id, COALESCE(connection_id, 0), livemode, day, kind, currency)",
        added=["count", "amount"],
    )

    rows = MrrDailyRollup.objects.order_by("day").values_list("day", "count", "amount")
    assert list(rows) == [(date(2026, 12, 1), 3, 70), (date(2026, 12, 2), 3, 900)]
