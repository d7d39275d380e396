"""Test data for the dashboard pages: signals placed on the default journey, rollups maintained."""

from datetime import timedelta

from django.utils import timezone

from billing.customer_figures import customer_figures_rebuild
from billing.models import RevenueSignal
from billing.revenue_models import FailedInvoice, MrrMovement
from billing.revenue_rollups import revenue_rollups_rebuild
from journeys.models import Journey
from journeys.placement import place_signals
from journeys.services import journey_install_default
from tests.factories import CustomerFactory, RevenueSignalFactory, StripeConnectionFactory


def default_journey(workspace) -> Journey:
    journey = Journey.objects.filter(workspace=workspace, is_default=True).first()
    return journey or journey_install_default(workspace=workspace)


def add_signal(workspace, kind, *, days_ago=1, **fields) -> RevenueSignal:
    """One signal `days_ago` days before now, placed in every journey of the workspace."""
    fields.setdefault("occurred_at", timezone.now() - timedelta(days=days_ago, minutes=5))
    if "connection" in fields and "event" not in fields:
        fields["event__connection"] = fields["connection"]
    if "livemode" in fields:
        fields.setdefault("event__livemode", fields["livemode"])
    signal = RevenueSignalFactory(workspace=workspace, kind=kind, **fields)
    place_signals(signals=[signal])
    return signal


def mixed_history(workspace):
    """A varied history: EUR mostly, some USD and JPY, live and test, two connections."""
    default_journey(workspace)
    live = StripeConnectionFactory(workspace=workspace, livemode=True, label="Live")
    test = StripeConnectionFactory(workspace=workspace, livemode=False, label="Test")
    alice = CustomerFactory(workspace=workspace, name="Alice Ltd", email="alice@example.org")
    bob = CustomerFactory(workspace=workspace, name="Bob GmbH", email="bob@example.org")
    kenji = CustomerFactory(workspace=workspace, name="Kenji KK", currency="jpy")
    rows = [
        # (kind, days_ago, amount, currency, customer, connection, mrr_delta, details)
        ("payment_failed", 1, 4900, "eur", alice, live, 0, {"decline_code": "insufficient_funds"}),
        ("payment_failed", 3, 9900, "eur", bob, live, 0, {"decline_code": "expired_card"}),
        ("payment_failed", 5, 5000, "jpy", kenji, live, 0, {"decline_code": "do_not_honor"}),
        ("payment_recovered", 2, 4900, "eur", alice, live, 0, {"hours_to_recover": 20.0}),
        ("payment_recovered", 4, 3000, "jpy", kenji, live, 0, {"hours_to_recover": 50.0}),
        ("payment_failed", 12, 4900, "eur", alice, live, 0, {}),
        ("payment_failed", 40, 4900, "eur", alice, test, 0, {}),
        ("payment_failed", 200, 1500, "usd", bob, live, 0, {}),
        ("refund", 6, 2000, "eur", bob, live, 0, {"reason": "requested_by_customer"}),
        ("refund", 45, 1200, "usd", bob, test, 0, {}),
        ("dispute_opened", 8, 9900, "eur", bob, live, 0, {"reason": "fraudulent"}),
        ("payment_succeeded", 2, 4900, "eur", alice, live, 0, {}),
        ("payment_succeeded", 9, 4900, "eur", alice, live, 0, {}),
        ("payment_succeeded", 33, 5000, "jpy", kenji, live, 0, {}),
        ("checkout_completed", 2, 4900, "eur", alice, live, 0, {}),
        ("checkout_abandoned", 3, 9900, "eur", bob, live, 0, {}),
        ("checkout_abandoned", 4, None, "", None, live, 0, {}),
        ("subscription_started", 2, None, "eur", alice, live, 4900, {}),
        ("subscription_started", 20, None, "jpy", kenji, live, 5000, {}),
        ("plan_upgraded", 3, None, "eur", bob, live, 5000, {"previous_mrr": 4900}),
        ("plan_downgraded", 6, None, "eur", alice, live, -2000, {}),
        ("subscription_canceled", 10, None, "eur", bob, live, -9900, {"churn_type": "voluntary"}),
        (
            "subscription_canceled",
            11,
            None,
            "jpy",
            kenji,
            live,
            -3000,
            {"churn_type": "involuntary"},
        ),
        ("subscription_started", 7, None, "eur", bob, live, 9900, {}),  # bob came back
        ("cancellation_scheduled", 1, None, "eur", alice, live, 0, {}),
    ]
    signals = []
    for kind, days, amount, currency, customer, connection, mrr, details in rows:
        signals.append(
            add_signal(
                workspace,
                kind,
                days_ago=days,
                amount=amount,
                currency=currency,
                customer=customer,
                connection=connection,
                livemode=connection.livemode,
                mrr_delta=mrr,
                details=details,
            )
        )
    _failed_invoices(workspace, signals)
    _movements(workspace, signals)
    # Written directly above, so their rollups are added up as the pipeline's writes keep them.
    revenue_rollups_rebuild(workspace=workspace)
    customer_figures_rebuild(workspace=workspace)
    return signals


def _movement_kind(signal, seen_canceled) -> str | None:
    if signal.kind == "subscription_started":
        return "reactivation" if signal.customer_id in seen_canceled else "new"
    if signal.kind == "subscription_canceled":
        return f"churn_{signal.details.get('churn_type', 'voluntary')}"
    return {"plan_upgraded": "expansion", "plan_downgraded": "contraction"}.get(signal.kind)


def _movements(workspace, signals):
    """The customer-level MRR movements the pipeline would derive from the signals above."""
    seen_canceled = set()
    for signal in sorted(signals, key=lambda s: s.occurred_at):
        kind = _movement_kind(signal, seen_canceled)
        if signal.kind == "subscription_canceled":
            seen_canceled.add(signal.customer_id)
        if kind is None or not signal.mrr_delta:
            continue
        MrrMovement.objects.create(
            workspace=workspace,
            customer=signal.customer,
            connection=signal.connection,
            livemode=signal.livemode,
            at=signal.occurred_at,
            kind=kind,
            currency=signal.currency,
            amount=signal.mrr_delta,
            mrr_after=max(signal.mrr_delta, 0),
        )


# Per failed signal above, in order: its invoice, and what became of it (hours to the payment
# and the amount paid, or the reason it was lost; neither: still in dunning).
FAILED_INVOICES = [
    ("in_alice_1", {"paid_after": 20, "paid": 4900}),
    ("in_bob_1", {}),
    ("in_kenji_1", {"paid_after": 50, "paid": 3000}),
    ("in_alice_2", {"lost": "uncollectible"}),
    ("in_alice_test", {}),
    ("in_bob_usd", {"lost": "canceled"}),
]
RECOVERED_INVOICES = ["in_alice_1", "in_kenji_1"]


def _failed_invoices(workspace, signals):
    """The FailedInvoice rows the pipeline would keep for the failed signals above."""
    failed = [s for s in signals if s.kind == "payment_failed"]
    recovered = [s for s in signals if s.kind == "payment_recovered"]
    for signal, invoice in zip(recovered, RECOVERED_INVOICES, strict=True):
        RevenueSignal.objects.filter(pk=signal.pk).update(object_id=invoice)
    for signal, (invoice, fate) in zip(failed, FAILED_INVOICES, strict=True):
        RevenueSignal.objects.filter(pk=signal.pk).update(object_id=invoice)
        paid_at = None
        if "paid_after" in fate:
            paid_at = signal.occurred_at + timedelta(hours=fate["paid_after"])
        FailedInvoice.objects.create(
            workspace=workspace,
            connection=signal.connection,
            customer=signal.customer,
            invoice_id=invoice,
            livemode=signal.livemode,
            currency=signal.currency,
            amount=signal.amount,
            attempts=2,
            first_failed_at=signal.occurred_at,
            paid_at=paid_at,
            amount_paid=fate.get("paid", 0),
            lost_at=signal.occurred_at + timedelta(days=3) if "lost" in fate else None,
            lost_reason=fate.get("lost", ""),
        )
