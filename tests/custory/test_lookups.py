"""`__in` with many values (custory.lookups): one array parameter on PostgreSQL, the same rows
as Django's IN list everywhere."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Customer, RevenueSignal
from custory.lookups import ARRAY_FROM
from tests.factories import CustomerFactory, RevenueSignalFactory

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = connection.vendor == "postgresql"


def _sql_of(queryset) -> str:
    with CaptureQueriesContext(connection) as queries:
        list(queryset.all())
    return queries.captured_queries[-1]["sql"]


def test_a_long_list_finds_the_same_rows_as_a_short_one(workspace):
    customers = CustomerFactory.create_batch(3, workspace=workspace)
    wanted = [customers[0].pk, customers[2].pk]
    padding = list(range(10**9, 10**9 + ARRAY_FROM))

    found = Customer.objects.filter(pk__in=[*wanted, None, *padding]).order_by("pk")
    sql = _sql_of(found)

    assert [c.pk for c in found] == wanted
    assert ("= ANY(" in sql) is ON_POSTGRESQL
    assert [c.pk for c in Customer.objects.filter(pk__in=wanted).order_by("pk")] == wanted


def test_a_short_list_keeps_the_in_list(workspace):
    customer = CustomerFactory(workspace=workspace)

    sql = _sql_of(Customer.objects.filter(pk__in=[customer.pk, customer.pk + 1]))

    assert " IN (" in sql
    assert "ANY(" not in sql


def test_text_values_are_compared_whole_not_cut_to_the_column_length(workspace):
    customer = CustomerFactory(workspace=workspace, stripe_id="cus_" + "a" * 251)
    too_long = customer.stripe_id + "-and-more"
    others = [f"cus_other_{i}" for i in range(ARRAY_FROM)]

    assert not Customer.objects.filter(stripe_id__in=[too_long, *others]).exists()
    assert Customer.objects.filter(stripe_id__in=[customer.stripe_id, *others]).get() == customer


def test_related_objects_and_their_ids_both_work(workspace):
    customers = CustomerFactory.create_batch(ARRAY_FROM + 2, workspace=workspace)
    signal = RevenueSignalFactory(workspace=workspace, customer=customers[-1])
    RevenueSignalFactory(workspace=workspace, customer=CustomerFactory(workspace=workspace))

    by_object = RevenueSignal.objects.filter(customer__in=customers)
    by_id = RevenueSignal.objects.filter(customer_id__in=[c.pk for c in customers])

    assert list(by_object) == [signal]
    assert list(by_id) == [signal]
    assert ("= ANY(" in _sql_of(by_object)) is ON_POSTGRESQL


def test_a_subquery_stays_a_subquery(workspace):
    customer = CustomerFactory(workspace=workspace)
    signal = RevenueSignalFactory(workspace=workspace, customer=customer)

    found = RevenueSignal.objects.filter(customer__in=Customer.objects.filter(pk=customer.pk))

    assert list(found) == [signal]
    assert "ANY(" not in _sql_of(found)


def test_an_empty_list_matches_nothing_without_a_query(workspace):
    CustomerFactory(workspace=workspace)

    with CaptureQueriesContext(connection) as queries:
        assert list(Customer.objects.filter(pk__in=[None] * ARRAY_FROM)) == []

    assert queries.captured_queries == []
