"""Journeys (stages → steps), the rules that pin revenue signals to steps, and per-step rollups."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from billing.models import RevenueSignal, StripeConnection
from custory.fields import unindexed_fk
from custory.models import Workspace


class JourneyQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)


class Journey(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="journeys")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = JourneyQuerySet.as_manager()

    class Meta:
        ordering = ["-is_default", "position", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(is_default=True),
                name="journeys_one_default_per_workspace",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return (
            reverse("journeys:board", kwargs={"slug": self.workspace.slug})
            + f"?journey={self.uuid}"
        )


class Stage(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="stages")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class StepQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)


class Step(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="steps")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    objects = StepQuerySet.as_manager()

    class Meta:
        ordering = ["stage__position", "position", "id"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse(
            "journeys:step_detail", kwargs={"slug": self.workspace.slug, "uuid": self.uuid}
        )


class MappingRule(models.Model):
    """Signals of these kinds, matching these conditions, belong on this step; first match wins."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="mapping_rules")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="mapping_rules")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, blank=True)
    kinds = models.JSONField(default=list)
    # Validated on write by journeys.conditions; keys: amount_min, amount_max, currency, ...
    conditions = models.JSONField(default=dict, blank=True)
    priority = models.IntegerField(default=100)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self):
        return self.name or f"Rule {self.pk}"


class SignalPlacement(models.Model):
    """Where one journey puts one signal; a null step is the journey's Unmapped lane."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    signal = unindexed_fk(RevenueSignal, on_delete=models.CASCADE, related_name="placements")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="placements")
    step = unindexed_fk(
        Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="placements"
    )
    rule = models.ForeignKey(
        MappingRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["signal", "journey"], name="journeys_placement_one_per_journey"
            ),
        ]
        indexes = [
            # A step's signal list.
            models.Index(fields=["step", "signal"], name="journeys_placement_step"),
        ]

    def __str__(self):
        return f"{self.signal_id} → {self.step_id or 'unmapped'}"


class StepDailyRollup(models.Model):
    """Per journey step, day, kind, currency and connection: counts and sums of signals.

    Kept equal to the raw aggregate by whoever writes placements, in the same transaction, so the
    board never scans raw signals. A null step is the journey's Unmapped lane.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    connection = models.ForeignKey(
        StripeConnection, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    livemode = models.BooleanField(default=False)
    day = models.DateField()
    kind = models.CharField(max_length=32)
    currency = models.CharField(max_length=3, blank=True)
    count = models.PositiveIntegerField(default=0)
    amount = models.BigIntegerField(default=0)
    mrr_delta = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # Coalesce so the Unmapped lane (null step) and null connections are unique too.
            models.UniqueConstraint(
                models.F("journey"),
                Coalesce("step", models.Value(0)),
                Coalesce("connection", models.Value(0)),
                models.F("day"),
                models.F("kind"),
                models.F("currency"),
                name="journeys_rollup_unique",
            ),
        ]
        indexes = [
            # The board: one journey's rows over a period.
            models.Index(fields=["journey", "day"], name="journeys_rollup_journey_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.kind} ×{self.count}"


class RemapStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    SUPERSEDED = "superseded", "Superseded"
    FAILED = "failed", "Failed"


class RemapRun(models.Model):
    """A background re-placement of a journey's signals after its rules or steps changed.

    A newer run of the same journey supersedes an older one, which stops at its next chunk.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="remap_runs")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=10, choices=RemapStatus.choices, default=RemapStatus.QUEUED
    )
    reason = models.CharField(max_length=200, blank=True)
    # The signal kinds whose placement may have changed; empty means every kind.
    kinds = models.JSONField(default=list, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    moved = models.PositiveIntegerField(default=0)
    # The id of the last signal handled; the next chunk starts after it.
    cursor = models.BigIntegerField(default=0)
    last_error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The journey page's progress: a journey's latest run.
            models.Index(fields=["journey", "-created_at"], name="journeys_remap_journey_time"),
        ]

    def __str__(self):
        return f"Remap {self.journey_id} ({self.status} {self.done}/{self.total})"

    @property
    def is_active(self) -> bool:
        return self.status in {RemapStatus.QUEUED, RemapStatus.RUNNING}

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.status == RemapStatus.DONE else 0
        return min(100, round(100 * self.done / self.total))


class EvidenceRule(models.Model):
    """Evidence of this kind (from this source, or any) shows on this step beside its signals."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="evidence_rules")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="evidence_rules")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=64)
    # Blank: evidence of this kind from any source.
    source = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "source", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["step", "kind", "source"], name="journeys_evidence_rule_unique"
            ),
        ]

    def __str__(self):
        return f"{self.source or 'any'}:{self.kind} → {self.step_id}"
