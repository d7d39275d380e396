"""Billing facts kept for revenue figures: each failed invoice's outcome (recovery cohorts)."""

from django.db import models

from custory.models import Workspace


class FailedInvoiceQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def first_failed_in(self, start, end):
        return self.filter(first_failed_at__gte=start, first_failed_at__lt=end)

    def recovered(self):
        return self.filter(paid_at__isnull=False)

    def lost(self):
        return self.filter(paid_at__isnull=True, lost_at__isnull=False)

    def in_dunning(self):
        return self.filter(paid_at__isnull=True, lost_at__isnull=True)


class FailedInvoice(models.Model):
    """An invoice whose payment failed, followed to its outcome: recovered (paid later), lost
    (uncollectible, voided, its subscription canceled) or still in dunning.

    Every field is merged by min or max from the invoice's events, so any delivery order and
    any redelivery end in the same row.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        "billing.StripeConnection", on_delete=models.SET_NULL, null=True, blank=True
    )
    customer = models.ForeignKey(
        "billing.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="failed_invoices",
    )
    invoice_id = models.CharField(max_length=255)
    subscription_stripe_id = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, blank=True)
    amount = models.BigIntegerField(default=0)  # amount due, minor units
    attempts = models.PositiveIntegerField(default=0)  # failed attempts
    first_failed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    amount_paid = models.BigIntegerField(default=0)
    lost_at = models.DateTimeField(null=True, blank=True)
    lost_reason = models.CharField(max_length=32, blank=True)  # uncollectible, voided, canceled

    objects = FailedInvoiceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "invoice_id"], name="billing_failed_invoice_unique"
            ),
        ]
        indexes = [
            # Recovery cohorts: a workspace's invoices whose first failure is in a period.
            models.Index(
                fields=["workspace", "first_failed_at"], name="billing_failed_invoice_cohort"
            ),
            # A canceled subscription closes its invoices still in dunning.
            models.Index(
                fields=["workspace", "subscription_stripe_id"], name="billing_failed_invoice_sub"
            ),
        ]

    def __str__(self):
        return self.invoice_id

    @property
    def outcome(self) -> str:
        if self.paid_at:
            return "recovered"
        return "lost" if self.lost_at else "in_dunning"
