"""revenue_rebuild replays stored events into the same revenue facts live processing made."""

import io

from django.core.management import call_command

from billing.pipeline.demo import demo_events
from billing.revenue_models import FailedInvoice, MrrMovement
from tests.billing.apply_support import apply_payloads
from tests.factories import StripeConnectionFactory


def facts(workspace):
    invoices = sorted(
        FailedInvoice.objects.filter(workspace=workspace).values_list(
            "invoice_id", "attempts", "amount", "first_failed_at", "paid_at", "lost_at"
        )
    )
    movements = sorted(
        MrrMovement.objects.filter(workspace=workspace).values_list(
            "customer__stripe_id", "at", "kind", "currency", "amount", "mrr_after"
        )
    )
    return invoices, movements


def test_a_rebuild_gives_the_facts_processing_gave(db):
    connection = StripeConnectionFactory()
    apply_payloads(connection, demo_events(seed=3, customers=6, months=3))
    workspace = connection.workspace
    live = facts(workspace)
    assert live[1], "the stream moves MRR"
    FailedInvoice.objects.all().delete()
    MrrMovement.objects.all().delete()
    out = io.StringIO()
    call_command("revenue_rebuild", workspace.slug, stdout=out)
    assert "events replayed" in out.getvalue()
    assert facts(workspace) == live
