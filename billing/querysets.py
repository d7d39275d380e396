"""Reusable filters for billing's models, reached as `Model.objects.<filter>()`."""

from django.db import models
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from billing.choices import ConnectionStatus, SignalKind

# Subscriptions whose revenue is at risk now: an unresolved failed payment (past due, unpaid)
# or a scheduled cancellation. One expression for the query and its partial index.
AT_RISK = (
    models.Q(status__in=["past_due", "unpaid"])
    | models.Q(cancel_at_period_end=True, status__in=["active", "trialing", "past_due"])
    | models.Q(cancel_at__isnull=False, status__in=["active", "trialing"])
)


# The charge and payment intent a signal's details name: one expression for the lookups and
# their indexes (cast: SQLite compares a bare KT with a JSON value, not text).
SIGNAL_CHARGE = Cast(KT("details__charge_id"), models.TextField())
SIGNAL_PAYMENT_INTENT = Cast(KT("details__payment_intent_id"), models.TextField())
SIGNAL_PAYMENT_INDEXES = [
    # Processing: a dispute's or refund's customer, from its charge's signals (of_charge).
    models.Index("workspace", SIGNAL_CHARGE, name="billing_signal_ws_charge"),
    # Processing: a charge failure's payment_failed signals, by charge or intent (of_payments).
    models.Index(
        "workspace",
        SIGNAL_PAYMENT_INTENT,
        condition=models.Q(kind=SignalKind.PAYMENT_FAILED),
        name="billing_signal_failed_intent",
    ),
]


class StripeConnectionQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def active(self):
        return self.filter(status=ConnectionStatus.ACTIVE)


class StripeEventQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)


class CustomerQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)


class RevenueSignalQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def in_period(self, start, end):
        return self.filter(occurred_at__gte=start, occurred_at__lt=end)

    def of_kinds(self, kinds):
        return self.filter(kind__in=kinds)

    def of_charge(self, charge_id: str):
        """Signals whose details name this charge."""
        return self.alias(details_charge=SIGNAL_CHARGE).filter(details_charge=charge_id)

    def of_payments(self, *, charge_ids: list[str], payment_intent_ids: list[str]):
        """Signals whose details name one of these charges or payment intents."""
        lookup = models.Q()
        if charge_ids:
            lookup |= models.Q(details_charge__in=charge_ids)
        if payment_intent_ids:
            lookup |= models.Q(details_payment_intent__in=payment_intent_ids)
        if not lookup:
            return self.none()
        return self.alias(
            details_charge=SIGNAL_CHARGE, details_payment_intent=SIGNAL_PAYMENT_INTENT
        ).filter(lookup)
