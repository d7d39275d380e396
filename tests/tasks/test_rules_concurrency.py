"""Two workers processing one customer's signals at the same moment still open one task."""

import threading

import pytest
from django.db import connection, connections, transaction

from billing.models import SignalKind
from tasks.automation import task_rules_apply
from tasks.models import FollowUpTask, TaskSignal
from tests.factories import CustomerFactory, RevenueSignalFactory, TaskRuleFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)


@pytest.mark.django_db(transaction=True)
def test_concurrent_signals_for_one_customer_open_one_task(workspace):
    TaskRuleFactory(workspace=workspace, kinds=[SignalKind.PAYMENT_FAILED])
    customer = CustomerFactory(workspace=workspace)
    signals = [RevenueSignalFactory(workspace=workspace, customer=customer) for _ in range(4)]
    barrier = threading.Barrier(len(signals))
    errors = []

    def work(signal):
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                task_rules_apply(signals=[signal])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(signal,)) for signal in signals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    task = FollowUpTask.objects.get()
    assert TaskSignal.objects.filter(task=task).count() == len(signals)
