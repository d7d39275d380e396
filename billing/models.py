"""Stripe connections, the raw events they deliver, and what we derive from them."""

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from billing import revenue_models  # noqa: F401  (its models are billing's too)
from billing.choices import (
    ConnectionStatus,
    EventSource,
    EventStatus,
    ImportStatus,
    SignalKind,
)
from billing.querysets import (
    AT_RISK,
    SIGNAL_PAYMENT_INDEXES,
    CustomerQuerySet,
    RevenueSignalQuerySet,
    StripeConnectionQuerySet,
    StripeEventQuerySet,
)
from custory.fields import unindexed_fk
from custory.models import Workspace


class StripeConnection(models.Model):
    """One Stripe account (test or live) connected to a workspace through one webhook endpoint."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="stripe_connections"
    )
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    label = models.CharField(max_length=100, default="Stripe")
    account_id = models.CharField(max_length=64, blank=True)
    account_name = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ConnectionStatus.choices, default=ConnectionStatus.ACTIVE
    )
    # Fernet token of the restricted API key; erased on revoke.
    api_key_encrypted = models.TextField(blank=True)
    api_key_hint = models.CharField(max_length=32, blank=True)
    api_key_verified_at = models.DateTimeField(null=True, blank=True)
    stripe_webhook_endpoint_id = models.CharField(max_length=64, blank=True)
    tracked_event_types = models.JSONField(default=list, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    connected_at = models.DateTimeField(default=timezone.now)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Webhook events refused for a livemode not the connection's (shown on the event log).
    livemode_refused = models.PositiveIntegerField(default=0)
    livemode_refused_at = models.DateTimeField(null=True, blank=True)

    objects = StripeConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["connected_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ConnectionStatus.values),
                name="billing_connection_status_valid",
            ),
            # One active connection per Stripe account and mode in a workspace.
            models.UniqueConstraint(
                fields=["workspace", "account_id", "livemode"],
                condition=models.Q(status="active") & ~models.Q(account_id=""),
                name="billing_connection_one_active_per_account",
            ),
        ]

    def __str__(self):
        return f"{self.label} ({self.mode_label})"

    @property
    def mode_label(self) -> str:
        return "live" if self.livemode else "test"

    @property
    def is_active(self) -> bool:
        return self.status == ConnectionStatus.ACTIVE

    def webhook_path(self) -> str:
        return reverse("stripe_webhook", kwargs={"endpoint": self.uuid})

    def webhook_url(self) -> str:
        return settings.SITE_URL + self.webhook_path()


class WebhookSecret(models.Model):
    """A webhook signing secret; during rotation a connection has two that both verify."""

    connection = models.ForeignKey(
        StripeConnection, on_delete=models.CASCADE, related_name="webhook_secrets"
    )
    secret_encrypted = models.TextField()
    hint = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.hint


class StripeEvent(models.Model):
    """A Stripe event exactly as received, and where its processing stands."""

    workspace = unindexed_fk(Workspace, on_delete=models.CASCADE, related_name="stripe_events")
    connection = models.ForeignKey(
        StripeConnection, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    stripe_id = models.CharField(max_length=255)
    type = models.CharField(max_length=255)
    api_version = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField()
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    source = models.CharField(
        max_length=10, choices=EventSource.choices, default=EventSource.WEBHOOK
    )
    status = models.CharField(
        max_length=12, choices=EventStatus.choices, default=EventStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # When a pending/failed event may next be tried; also when a processing claim goes stale.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = StripeEventQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "stripe_id"], name="billing_event_unique_per_workspace"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=EventStatus.values),
                name="billing_event_status_valid",
            ),
        ]
        indexes = [
            # The sweep: events of one status whose time has come (e.g. expired claims).
            models.Index(fields=["status", "next_attempt_at"], name="billing_event_work_queue"),
            # The processing claim: due events in claim order, read in index order, so a claim
            # costs the same with a backlog of a million as with ten.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status__in=["pending", "failed"]),
                name="billing_event_due",
            ),
            # The event log page: a workspace's newest events, filtered by status or type.
            models.Index(fields=["workspace", "-received_at"], name="billing_event_ws_received"),
        ]

    def __str__(self):
        return f"{self.type} {self.stripe_id}"

    def get_absolute_url(self):
        return reverse(
            "billing:event_detail", kwargs={"slug": self.workspace.slug, "event_id": self.pk}
        )


class Customer(models.Model):
    """A Stripe customer as of the newest event seen about it."""

    workspace = unindexed_fk(Workspace, on_delete=models.CASCADE, related_name="customers")
    connection = models.ForeignKey(
        StripeConnection, on_delete=models.SET_NULL, null=True, blank=True, related_name="customers"
    )
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    stripe_id = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True)
    name = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    status = models.CharField(max_length=32, blank=True)
    mrr = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    deleted = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(default=timezone.now)
    # Stripe `created` of the newest event applied; older events never overwrite newer state.
    state_as_of = models.DateTimeField(null=True, blank=True)
    # That event's id breaks ties between events created in the same second, in any order.
    state_event_id = models.CharField(max_length=255, blank=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["-first_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "stripe_id"], name="billing_customer_unique_per_workspace"
            ),
        ]

    def __str__(self):
        return self.name or self.email or self.stripe_id

    def get_absolute_url(self):
        return reverse(
            "journeys:customer_detail", kwargs={"slug": self.workspace.slug, "uuid": self.uuid}
        )


class Subscription(models.Model):
    """A Stripe subscription as of the newest event seen about it."""

    workspace = unindexed_fk(Workspace, on_delete=models.CASCADE, related_name="subscriptions")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="subscriptions"
    )
    stripe_id = models.CharField(max_length=255)
    status = models.CharField(max_length=32, blank=True)
    price_id = models.CharField(max_length=255, blank=True)
    product_id = models.CharField(max_length=255, blank=True)
    plan_name = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    mrr = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    items = models.JSONField(default=list, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    cancel_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    livemode = models.BooleanField(default=False)
    state_as_of = models.DateTimeField(null=True, blank=True)
    state_event_id = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "stripe_id"], name="billing_subscription_unique_per_workspace"
            ),
        ]
        indexes = [
            # Revenue at risk now (every board view): the few at-risk rows, summed from the index.
            models.Index(
                fields=["workspace", "currency"],
                include=["mrr", "customer"],
                condition=AT_RISK,
                name="billing_subscription_at_risk",
            ),
        ]

    def __str__(self):
        return self.stripe_id


class RevenueSignal(models.Model):
    """Something that happened to revenue, derived from one Stripe event."""

    workspace = unindexed_fk(Workspace, on_delete=models.CASCADE, related_name="revenue_signals")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = unindexed_fk(StripeEvent, on_delete=models.CASCADE, related_name="signals")
    connection = models.ForeignKey(
        StripeConnection, on_delete=models.SET_NULL, null=True, blank=True, related_name="signals"
    )
    customer = unindexed_fk(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="signals"
    )
    subscription_stripe_id = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=32, choices=SignalKind.choices)
    occurred_at = models.DateTimeField()
    livemode = models.BooleanField(default=False)
    amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    mrr_delta = models.BigIntegerField(default=0)
    # The Stripe object the signal is about (in_…, ch_…, cs_…, sub_…), for dashboard links.
    object_id = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The underlying fact (billing.normalize.fact_keys): one signal per fact, however it came.
    fact_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = RevenueSignalQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # Reprocessing an event derives the same signals, which this makes a no-op.
            models.UniqueConstraint(
                fields=["event", "kind"], name="billing_signal_unique_per_event"
            ),
            # A webhook, the events import and a rebuild from objects of one fact: one signal.
            models.UniqueConstraint(
                fields=["workspace", "fact_key"],
                condition=~models.Q(fact_key=""),
                name="billing_signal_unique_fact",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=SignalKind.values), name="billing_signal_kind_valid"
            ),
        ]
        indexes = [
            # Signal lists and exports: a workspace's signals by time, optionally by kind.
            models.Index(fields=["workspace", "-occurred_at"], name="billing_signal_ws_time"),
            models.Index(
                fields=["workspace", "kind", "-occurred_at"], name="billing_signal_ws_kind"
            ),
            # A customer's timeline.
            models.Index(fields=["customer", "-occurred_at"], name="billing_signal_customer_time"),
            # Processing: an invoice's earlier failures (recoveries) and its payment.
            models.Index(fields=["workspace", "object_id"], name="billing_signal_ws_object"),
            # Processing: the few signals still waiting for their customer (disputes, refunds).
            models.Index(
                fields=["workspace"],
                condition=models.Q(customer__isnull=True),
                name="billing_signal_no_customer",
            ),
            *SIGNAL_PAYMENT_INDEXES,  # processing: of_charge and of_payments
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d}"

    def get_absolute_url(self):
        return reverse(
            "journeys:signal_detail", kwargs={"slug": self.workspace.slug, "uuid": self.uuid}
        )


class PaymentFailure(models.Model):
    """Why a charge of an invoice failed, kept until (and after) its invoice's failure arrives.

    Stripe sends the decline code on charge.failed / payment_intent.payment_failed and the
    attempt count on invoice.payment_failed, in no fixed order; this joins the two.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # The event that told us; deleting a connection's events (revoke) deletes these too.
    event = models.ForeignKey(StripeEvent, on_delete=models.CASCADE, related_name="+")
    charge_id = models.CharField(max_length=255, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    decline_code = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=255, blank=True)
    failure_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One per event: charge.failed and payment_intent.payment_failed both report the
            # same failure, each with its own words; all are kept and merged in a fixed order.
            models.UniqueConstraint(fields=["event"], name="billing_payment_failure_per_event"),
        ]
        indexes = [
            # invoice.payment_failed looks up its charge's failure, or its payment intent's.
            models.Index(fields=["workspace", "charge_id"], name="billing_failure_charge"),
            models.Index(fields=["workspace", "payment_intent_id"], name="billing_failure_intent"),
        ]

    def __str__(self):
        return self.charge_id or self.payment_intent_id


class EventDrainState(models.Model):
    """One row: whether a processing (drain) job has been asked for and not started yet.

    Webhooks flip `requested` from false to true and enqueue a drain job only when they flipped
    it, so a burst of events makes a handful of jobs, not one per event.
    """

    requested = models.BooleanField(default=False)
    requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"drain requested={self.requested}"


class Evidence(models.Model):
    """Something a customer did in the product or said to support, as a tool reported it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="evidence")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Matched on write by Stripe id or email; the identifiers are kept as given either way.
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="evidence"
    )
    customer_stripe_id = models.CharField(max_length=255, blank=True)
    customer_email = models.CharField(max_length=254, blank=True)
    source = models.CharField(max_length=32)
    kind = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=1000, blank=True)
    occurred_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)  # validated by billing.evidence
    client_id = models.CharField(max_length=255)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [  # batches are idempotent: a resent item is ignored by this constraint
            models.UniqueConstraint(
                fields=["workspace", "source", "client_id"],
                name="billing_evidence_unique_client_id",
            ),
        ]
        indexes = [  # a customer's timeline; evidence of a kind over a period (steps, API)
            models.Index(fields=["customer", "-occurred_at"], name="billing_evidence_customer"),
            models.Index(
                fields=["workspace", "kind", "-occurred_at"], name="billing_evidence_ws_kind"
            ),
        ]

    def __str__(self):
        return f"{self.source}: {self.title}"


# The history import's models live beside these; importing them here registers them with billing.
from billing.history_models import (  # noqa: E402
    STRIPE_EVENT_RETENTION,
    HistoryImport,
    HistoryPlanPoint,
)

__all__ = [
    "STRIPE_EVENT_RETENTION",
    "ConnectionStatus",
    "Customer",
    "EventDrainState",
    "EventSource",
    "EventStatus",
    "Evidence",
    "HistoryImport",
    "HistoryPlanPoint",
    "ImportStatus",
    "PaymentFailure",
    "RevenueSignal",
    "SignalKind",
    "StripeConnection",
    "StripeEvent",
    "Subscription",
    "WebhookSecret",
]
