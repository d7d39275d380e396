"""Reusable filters for billing's models, reached as `Model.objects.<filter>()`."""

from django.db import models

from billing.choices import ConnectionStatus

# Subscriptions whose revenue is at risk now: an unresolved failed payment (past due, unpaid)
# or a scheduled cancellation. One expression for the query and its partial index.
AT_RISK = (
    models.Q(status__in=["past_due", "unpaid"])
    | models.Q(cancel_at_period_end=True, status__in=["active", "trialing", "past_due"])
    | models.Q(cancel_at__isnull=False, status__in=["active", "trialing"])
)


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
