"""The set-based writes of custory.bulk_sql, on whichever database the suite runs on."""

from datetime import date

import pytest
from django.db import DataError, connection, transaction

from billing.models import Customer
from billing.revenue_models import MovementKind, MrrDailyRollup
from custory.bulk_sql import rows_add, rows_insert, rows_insert_new, rows_update
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


def test_rows_insert_stores_every_field_and_sets_the_ids_in_order(workspace):
    rows = [
        Customer(
            workspace=workspace,
            stripe_id=f"cus_Insert{index}",
            email=f"c{index}@example.org",
            metadata={"index": index, "tags": ["a", None]},
            mrr=index * 1000,
            deleted=index == 2,
        )
        for index in range(3)
    ]

    rows_insert(Customer, rows)

    assert all(row.pk is not None and not row._state.adding for row in rows)
    stored = {c.pk: c for c in Customer.objects.filter(workspace=workspace)}
    for index, row in enumerate(rows):
        saved = stored[row.pk]
        assert saved.stripe_id == f"cus_Insert{index}"
        assert (saved.email, saved.metadata, saved.mrr, saved.deleted) == (
            f"c{index}@example.org",
            {"index": index, "tags": ["a", None]},
            index * 1000,
            index == 2,
        )
        assert saved.uuid == row.uuid


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps any length")
def test_rows_insert_refuses_a_value_too_long_for_its_column_rather_than_cutting_it(workspace):
    too_long = Customer(workspace=workspace, stripe_id="cus_Long", name="x" * 300)

    with pytest.raises(DataError), transaction.atomic():
        rows_insert(Customer, [too_long])

    assert not Customer.objects.filter(stripe_id="cus_Long").exists()


def test_rows_insert_ignoring_conflicts_keeps_the_stored_row(workspace):
    CustomerFactory(workspace=workspace, stripe_id="cus_Stored", email="kept@example.org")

    rows_insert(
        Customer,
        [
            Customer(workspace=workspace, stripe_id="cus_Stored", email="lost@example.org"),
            Customer(workspace=workspace, stripe_id="cus_New", email="new@example.org"),
        ],
        ignore_conflicts=True,
    )

    emails = dict(Customer.objects.filter(workspace=workspace).values_list("stripe_id", "email"))
    assert emails == {"cus_Stored": "kept@example.org", "cus_New": "new@example.org"}


def test_rows_insert_new_skips_stored_keys_and_returns_the_rows_it_inserted(workspace):
    stored = CustomerFactory(workspace=workspace, stripe_id="cus_Stored", email="kept@example.org")
    rows = [
        Customer(workspace=workspace, stripe_id=stripe_id, email=f"{stripe_id}@example.org")
        for stripe_id in ("cus_New1", "cus_Stored", "cus_New2")
    ]

    inserted = rows_insert_new(Customer, rows, key=("workspace_id", "stripe_id"))

    saved = dict(Customer.objects.values_list("stripe_id", "email"))
    assert saved == {
        "cus_Stored": "kept@example.org",
        "cus_New1": "cus_New1@example.org",
        "cus_New2": "cus_New2@example.org",
    }
    if connection.vendor == "postgresql":
        assert [row.stripe_id for row in inserted] == ["cus_New1", "cus_New2"]
        assert all(Customer.objects.get(pk=row.pk).stripe_id == row.stripe_id for row in inserted)
        assert rows[1].pk is None and stored.pk not in {row.pk for row in inserted}
    else:
        assert inserted == []  # read back by the caller
