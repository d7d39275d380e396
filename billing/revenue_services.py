"""Writes of how a workspace counts revenue: reporting currency and trials."""

from django.db import transaction

from billing.customer_figures import customer_figures_rebuild
from billing.mrr_ledger import workspace_movements_rebuild
from billing.revenue_models import RevenueSettings
from custory.audit import audit_record


def revenue_settings_update(
    *, workspace, actor, reporting_currency: str, count_trials_from_start: bool
) -> RevenueSettings:
    """Save the settings; a change in how trials count rebuilds every customer's movements."""
    with transaction.atomic():
        settings, _ = RevenueSettings.objects.select_for_update().get_or_create(workspace=workspace)
        rebuild = settings.count_trials_from_start != count_trials_from_start
        settings.reporting_currency = (reporting_currency or "").lower()[:3]
        settings.count_trials_from_start = count_trials_from_start
        settings.save(update_fields=["reporting_currency", "count_trials_from_start"])
        if rebuild:
            workspace_movements_rebuild(workspace=workspace)
            customer_figures_rebuild(workspace=workspace)
        audit_record(
            workspace=workspace,
            actor=actor,
            action="revenue.settings_update",
            data={
                "reporting_currency": settings.reporting_currency,
                "count_trials_from_start": count_trials_from_start,
            },
        )
    return settings


def account_currency_record(*, workspace, currency: str) -> None:
    """Remember the Stripe account's default currency: the reporting currency's default."""
    currency = (currency or "").lower()[:3]
    if not currency:
        return
    settings, _ = RevenueSettings.objects.get_or_create(workspace=workspace)
    if settings.account_currency != currency:
        RevenueSettings.objects.filter(pk=settings.pk).update(account_currency=currency)
