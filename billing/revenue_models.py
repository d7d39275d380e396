"""Billing facts kept for revenue figures: failed invoices followed to their outcome, MRR
history per customer (points and movements), per-customer figures, and how a workspace counts."""

from django.db import models
from django.db.models.functions import Coalesce

from custory.fields import unindexed_fk
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

    workspace = unindexed_fk(Workspace, on_delete=models.CASCADE, related_name="+")
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


class RevenueSettings(models.Model):
    """How a workspace wants its revenue counted; a workspace without a row takes the defaults."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="revenue_settings"
    )
    # Off (the default): a trial adds MRR at its first paid invoice. On: from its start.
    count_trials_from_start = models.BooleanField(default=False)
    # ISO code, lower case; blank: the Stripe account's default currency, else USD.
    reporting_currency = models.CharField(max_length=3, blank=True)
    # The connected Stripe account's default currency, as Stripe said when the key was checked.
    account_currency = models.CharField(max_length=3, blank=True)

    def __str__(self):
        return f"Revenue settings of {self.workspace_id}"


class MrrPoint(models.Model):
    """What one event says about one subscription's MRR: its state then, or (an invoice)
    that it has been paid. The customer's MRR history is rebuilt from these in time order."""

    workspace = unindexed_fk(Workspace, on_delete=models.CASCADE, related_name="+")
    customer = unindexed_fk("billing.Customer", on_delete=models.CASCADE, related_name="mrr_points")
    subscription_stripe_id = models.CharField(max_length=255)
    event_stripe_id = models.CharField(max_length=255)
    at = models.DateTimeField()
    # Blank for an invoice payment, which changes no state but marks the subscription paid.
    status = models.CharField(max_length=32, blank=True)
    mrr = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    had_trial = models.BooleanField(default=False)
    paid = models.BooleanField(default=False)
    # Before discounts given only as ids, and those ids: revalued when an invoice shows them.
    gross_mrr = models.BigIntegerField(default=0)
    discount_ids = models.JSONField(default=list, blank=True)
    churn_type = models.CharField(max_length=12, blank=True)  # voluntary | involuntary

    class Meta:
        constraints = [
            # Reapplying an event adds nothing.
            models.UniqueConstraint(
                fields=["workspace", "subscription_stripe_id", "event_stripe_id"],
                name="billing_mrr_point_once_per_event",
            ),
        ]
        indexes = [
            # Rebuilding one customer's history.
            models.Index(fields=["customer", "at"], name="billing_mrr_point_customer"),
        ]

    def __str__(self):
        return f"{self.subscription_stripe_id} at {self.at:%Y-%m-%d}"


class MovementKind(models.TextChoices):
    NEW = "new", "New"
    EXPANSION = "expansion", "Expansion"
    CONTRACTION = "contraction", "Contraction"
    CHURN_VOLUNTARY = "churn_voluntary", "Churn, voluntary"
    CHURN_INVOLUNTARY = "churn_involuntary", "Churn, involuntary"
    REACTIVATION = "reactivation", "Reactivation"
    # Counted, never money: a trial that ended before its first payment.
    TRIAL_NOT_CONVERTED = "trial_not_converted", "Trial not converted"


class MrrMovement(models.Model):
    """A change of one customer's MRR (in one currency), derived from its MrrPoints; the
    movements before a moment add up to the MRR at that moment."""

    workspace = unindexed_fk(Workspace, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        "billing.Customer", on_delete=models.CASCADE, related_name="mrr_movements"
    )
    connection = models.ForeignKey(
        "billing.StripeConnection", on_delete=models.SET_NULL, null=True, blank=True
    )
    livemode = models.BooleanField(default=False)
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()  # signed, minor units
    mrr_after = models.BigIntegerField()  # the customer's MRR in this currency afterwards

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=MovementKind.values),
                name="billing_mrr_movement_kind_valid",
            ),
        ]
        indexes = [
            # Movements of a period, and MRR or paying customers at a moment (sums before it).
            models.Index(fields=["workspace", "at"], name="billing_mrr_movement_ws_at"),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount} {self.currency}"


class ExchangeRate(models.Model):
    """A daily reference rate: units of `currency` per euro (the ECB's convention)."""

    source = models.CharField(max_length=16, default="ecb")
    day = models.DateField()
    currency = models.CharField(max_length=3)  # lower case, as Stripe writes currencies
    per_eur = models.DecimalField(max_digits=20, decimal_places=8)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "currency", "day"], name="billing_exchange_rate_unique"
            ),
        ]

    def __str__(self):
        return f"{self.day} 1 EUR = {self.per_eur} {self.currency.upper()}"


class DiscountShare(models.Model):
    """What share of an invoice's subtotal a discount (known only by id) takes off, as the
    newest invoice showing it says: how basil id-only discounts are valued without an API call."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    discount_id = models.CharField(max_length=255)
    share = models.DecimalField(max_digits=9, decimal_places=6)
    as_of = models.DateTimeField()
    event_stripe_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "discount_id"], name="billing_discount_share_unique"
            ),
        ]

    def __str__(self):
        return f"{self.discount_id}: {self.share}"


class DailyRollup(models.Model):
    """What the daily revenue rollups share: one row per workspace, connection, mode and day."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        "billing.StripeConnection",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    livemode = models.BooleanField(default=False)
    day = models.DateField()  # UTC

    class Meta:
        abstract = True


class MrrDailyRollup(DailyRollup):
    """Per day, movement kind, currency and connection: the customers' MRR movements added up.

    Kept equal to MrrMovement by whoever rewrites a customer's movements, in the same
    transaction (billing.revenue_rollups), so MRR over time never scans movements.
    """

    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    currency = models.CharField(max_length=3)
    count = models.PositiveIntegerField(default=0)
    amount = models.BigIntegerField(default=0)  # signed, minor units

    class Meta:
        constraints = [
            # Coalesce so rows without a connection are unique too.
            models.UniqueConstraint(
                models.F("workspace"),
                Coalesce("connection", models.Value(0)),
                models.F("livemode"),
                models.F("day"),
                models.F("kind"),
                models.F("currency"),
                name="billing_mrr_rollup_unique",
            ),
        ]
        indexes = [
            # A period's movements; MRR and paying customers before a day.
            models.Index(fields=["workspace", "day"], name="billing_mrr_rollup_ws_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.kind} {self.amount} {self.currency}"


class RecoveryDailyRollup(DailyRollup):
    """Per day of first failure, currency and connection: the failed invoices' counts and
    amounts by outcome, kept equal to FailedInvoice by the writes that merge its rows."""

    # `day`: of the first failure.
    currency = models.CharField(max_length=3, blank=True)
    invoices = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    amount = models.BigIntegerField(default=0)
    recovered = models.PositiveIntegerField(default=0)
    amount_recovered = models.BigIntegerField(default=0)
    in_dunning = models.PositiveIntegerField(default=0)
    amount_in_dunning = models.BigIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    amount_lost = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.F("workspace"),
                Coalesce("connection", models.Value(0)),
                models.F("livemode"),
                models.F("day"),
                models.F("currency"),
                name="billing_recovery_rollup_unique",
            ),
        ]
        indexes = [
            # A period's cohort: the days of its first failures.
            models.Index(fields=["workspace", "day"], name="billing_recovery_rollup_ws_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.invoices} invoices in {self.currency}"


class CustomerFigures(models.Model):
    """One customer's money figures in minor units of its currency, kept equal to its signals,
    failed invoices, subscriptions and MRR movements (billing.customer_figures), so the
    customers list reads and sorts them without adding up those rows."""

    customer = models.OneToOneField(
        "billing.Customer", on_delete=models.CASCADE, primary_key=True, related_name="figures"
    )
    mrr = models.BigIntegerField(default=0)  # its latest MRR movement's MRR after
    paid = models.BigIntegerField(default=0)  # payment_succeeded signals
    failed_outstanding = models.BigIntegerField(default=0)  # failed invoices still in dunning
    refunded = models.BigIntegerField(default=0)  # refund signals
    disputed = models.BigIntegerField(default=0)  # dispute_opened signals
    at_risk = models.BigIntegerField(default=0)  # MRR of its subscriptions at risk now

    def __str__(self):
        return f"Figures of {self.customer_id}"
