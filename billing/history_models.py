"""The history import: its progress and cursors, and the plans its invoices showed."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from billing.choices import ImportStatus
from custory.models import Workspace

# Stripe keeps events for 30 days; the events part of an import reaches no further back.
STRIPE_EVENT_RETENTION = timedelta(days=30)


class HistoryImport(models.Model):
    """An import of a connection's history from Stripe objects and its last 30 days of events.

    `cursors` holds, per listing (object type and time slice), where it stands, so a new run
    after a crash, a cancel or a restart continues instead of starting over.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="imports")
    connection = models.ForeignKey(
        "billing.StripeConnection", on_delete=models.CASCADE, related_name="imports"
    )
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    # Objects created from then on (null: the whole history).
    since = models.DateTimeField(null=True, blank=True)
    events_seen = models.PositiveIntegerField(default=0)
    events_stored = models.PositiveIntegerField(default=0)
    cursor = models.CharField(max_length=255, blank=True)
    cursors = models.JSONField(default=dict, blank=True)
    # Objects read per type ("customers", "invoices", ..., "events").
    counts = models.JSONField(default=dict, blank=True)
    signals_made = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Who runs it ("host:pid:token") and when it last showed life; a stale one is taken over.
    owner = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Time spent running, over every run (a resumed import adds to it).
    elapsed_seconds = models.FloatField(default=0)
    # The share of the listings done, 0..1, for the remaining-time estimate.
    done_fraction = models.FloatField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Starting an import while one runs is refused by the database, not a check.
            models.UniqueConstraint(
                fields=["connection"],
                condition=models.Q(status__in=["queued", "running"]),
                name="billing_import_one_running_per_connection",
            ),
        ]

    def __str__(self):
        return f"Import {self.pk} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status in {ImportStatus.QUEUED, ImportStatus.RUNNING}

    @property
    def is_stalled(self) -> bool:
        """Running, but its runner has not shown life for a lease: it died (resume it)."""
        if self.status != ImportStatus.RUNNING or self.heartbeat_at is None:
            return False
        lease = timedelta(seconds=settings.CUSTORY_IMPORT_LEASE_SECONDS)
        return self.heartbeat_at < timezone.now() - lease

    @property
    def objects_read(self) -> int:
        return sum(v for v in self.counts.values() if isinstance(v, int))

    @property
    def remaining_seconds(self) -> float | None:
        """A rough estimate from the share done so far; None before there is one."""
        if not self.is_running or self.done_fraction <= 0.01 or self.elapsed_seconds <= 0:
            return None
        return self.elapsed_seconds * (1 - self.done_fraction) / self.done_fraction


class HistoryPlanPoint(models.Model):
    """The plan one invoice billed a subscription for: the import dates plan changes by them."""

    history_import = models.ForeignKey(
        HistoryImport, on_delete=models.CASCADE, related_name="plan_points"
    )
    subscription_id = models.CharField(max_length=255)
    invoice_id = models.CharField(max_length=255)
    # Unix time the plan took effect (proration lines) or was first billed.
    at = models.BigIntegerField()
    exact = models.BooleanField(default=False)
    items = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["history_import", "invoice_id"], name="billing_plan_point_per_invoice"
            ),
        ]
        indexes = [
            # The subscriptions phase reads one page of subscriptions' plans at once.
            models.Index(
                fields=["history_import", "subscription_id"], name="billing_plan_point_sub"
            ),
        ]

    def __str__(self):
        return f"{self.subscription_id} from {self.at}"
