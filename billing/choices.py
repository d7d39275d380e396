"""The closed sets of values billing's models store, as Django choices."""

from django.db import models


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class EventSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    IMPORT = "import", "Import"
    # Made by the history import from Stripe objects: what the event would have said.
    REBUILT = "rebuilt", "Rebuilt from objects"


class EventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class SignalKind(models.TextChoices):
    CHECKOUT_COMPLETED = "checkout_completed", "Checkout completed"
    CHECKOUT_ABANDONED = "checkout_abandoned", "Checkout abandoned"
    SUBSCRIPTION_STARTED = "subscription_started", "Subscription started"
    TRIAL_ENDING = "trial_ending", "Trial ending"
    TRIAL_CONVERTED = "trial_converted", "Trial converted"
    PAYMENT_SUCCEEDED = "payment_succeeded", "Payment succeeded"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    PAYMENT_RECOVERED = "payment_recovered", "Payment recovered"
    PAYMENT_ACTION_REQUIRED = "payment_action_required", "Payment needs authentication"
    REFUND = "refund", "Refund"
    DISPUTE_OPENED = "dispute_opened", "Dispute opened"
    DISPUTE_CLOSED = "dispute_closed", "Dispute closed"
    PLAN_UPGRADED = "plan_upgraded", "Plan upgraded"
    PLAN_DOWNGRADED = "plan_downgraded", "Plan downgraded"
    CANCELLATION_SCHEDULED = "cancellation_scheduled", "Cancellation scheduled"
    CANCELLATION_WITHDRAWN = "cancellation_withdrawn", "Cancellation withdrawn"
    SUBSCRIPTION_CANCELED = "subscription_canceled", "Subscription canceled"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
