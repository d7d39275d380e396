"""The per-customer figures as kept in CustomerFigures and as the customers' rows add up now."""

from billing.customer_figures import FIGURES, figures_from_sources
from billing.models import Customer
from billing.revenue_models import CustomerFigures


def recomputed(workspace) -> dict[str, tuple]:
    """Each customer's figures added up from its rows now, by Stripe id."""
    rows = figures_from_sources(Customer.objects.filter(workspace=workspace)).values_list(
        "stripe_id", *(f"figure_{name}" for name in FIGURES)
    )
    return {stripe_id: tuple(values) for stripe_id, *values in rows}


def kept(workspace) -> dict[str, tuple]:
    """Each customer's CustomerFigures row, by Stripe id."""
    rows = CustomerFigures.objects.filter(customer__workspace=workspace).values_list(
        "customer__stripe_id", *FIGURES
    )
    return {stripe_id: tuple(values) for stripe_id, *values in rows}
