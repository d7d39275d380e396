"""Where money is lost, net: per journey step, failed payments not recovered (per invoice) and
disputes not won, besides refunds and abandoned checkouts from the step rollups."""

import hashlib
from collections import defaultdict
from collections.abc import Callable

from django.core.cache import cache
from django.db.models import OuterRef, Subquery, Sum

from billing.exchange import Money
from billing.metrics import SignalFilter, sort_amounts
from billing.models import SignalKind
from billing.recovery import Recovery, failed_invoices, period_recovery
from journeys.models import Journey, SignalPlacement, StepDailyRollup

K = SignalKind
# Counted from rollups as they are; failed payments and disputes are netted below.
GROSS_LOSS_KINDS = (K.REFUND, K.CHECKOUT_ABANDONED, K.DISPUTE_OPENED)


def _failure_steps(journey: Journey, filters: SignalFilter) -> dict[str, set]:
    """Per currency, the steps holding the journey's failed payments from the period's start
    on (later attempts of the period's invoices included), from the step rollups."""
    rows = StepDailyRollup.objects.filter(
        journey=journey, kind=K.PAYMENT_FAILED, day__gte=filters.period.start
    )
    if filters.livemode is not None:
        rows = rows.filter(livemode=filters.livemode)
    if filters.connection_id:
        rows = rows.filter(connection_id=filters.connection_id)
    steps: dict[str, set] = defaultdict(set)
    for currency, step_id in rows.values_list("currency", "step_id").distinct().order_by():
        steps[currency].add(step_id)
    return steps


def unrecovered_failed_by_step(
    journey: Journey, filters: SignalFilter, recovery: Recovery | None = None
) -> dict:
    """The period's failed invoices still in dunning or lost, by the step of their failure.

    Where one step holds all of a currency's failed payments (the usual journey), the
    currency's amount comes from the recovery rollups; otherwise each invoice is looked up."""
    recovery = recovery or period_recovery(journey.workspace, filters, median=False)
    unrecovered = {
        currency: cohort.amount_in_dunning + cohort.amount_lost
        for currency, cohort in recovery.by_currency.items()
        if cohort.amount_in_dunning + cohort.amount_lost
    }
    steps = _failure_steps(journey, filters)
    out: dict = defaultdict(dict)
    looked_up = []
    for currency, amount in unrecovered.items():
        if len(steps.get(currency, ())) == 1:
            (step_id,) = steps[currency]
            out[step_id][currency] = amount
        else:
            looked_up.append(currency)
    if not looked_up:
        return out
    step_of_failure = SignalPlacement.objects.filter(
        journey=journey,
        signal__workspace=journey.workspace_id,
        signal__kind=K.PAYMENT_FAILED,
        signal__object_id=OuterRef("invoice_id"),
    ).values("step_id")[:1]
    rows = (
        failed_invoices(journey.workspace, filters)
        .filter(paid_at__isnull=True, currency__in=looked_up)
        .annotate(step_id=Subquery(step_of_failure))
        .values("step_id", "currency")
        .order_by()
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        if row["total"]:
            out[row["step_id"]][row["currency"]] = row["total"]
    return out


def won_disputes_by_step(journey: Journey, filters: SignalFilter) -> dict:
    """Disputes closed as won in the period, by step: money that came back."""
    won = filters.signals(journey.workspace).filter(
        kind=K.DISPUTE_CLOSED, details__dispute_status="won"
    )
    # From the period's few closed disputes (an index on kind and time) to their placements.
    rows = (
        SignalPlacement.objects.filter(journey=journey, signal__in=won.values("id"))
        .values("step_id", "signal__currency")
        .order_by()
        .annotate(total=Sum("signal__amount"))
    )
    out: dict = defaultdict(dict)
    for row in rows:
        if row["total"]:
            out[row["step_id"]][row["signal__currency"]] = row["total"]
    return out


# Net losses read failed invoices and won disputes by step: cached under the journey's rollup
# counts of the kinds that change them (a payment that recovers an invoice adds a
# payment_recovered signal, a won dispute a dispute_closed one), so they are never stale.
NET_LOSS_TTL = 600
FINGERPRINT_KINDS = (K.PAYMENT_FAILED, K.PAYMENT_RECOVERED, K.DISPUTE_CLOSED)


def cached_by_counts(name: str, owner, filters: SignalFilter, fingerprint, compute):
    """compute(), cached under its owner (a journey, a step), the period, the filters and
    `fingerprint` (rollup counts that change when the figure does)."""
    key = repr(
        (
            name,
            type(owner).__name__,
            str(owner.uuid),  # not the pk: ids are reused after a rolled-back transaction
            filters.period.start,
            filters.period.end,
            filters.livemode,
            filters.connection_id,
            fingerprint,
        )
    )
    key = "figures:" + hashlib.sha256(key.encode()).hexdigest()
    boxed = cache.get(key)
    if boxed is None:
        boxed = (compute(),)  # boxed, so a None result is cached too
        cache.set(key, boxed, NET_LOSS_TTL)
    return boxed[0]


def net_loss_adjustments(
    journey: Journey, filters: SignalFilter, fingerprint, recovery: Recovery | None = None
) -> tuple:
    """(unrecovered failed, won disputes) by step, from the cache when the counts match; the
    caller may pass the period's recovery cohort it has read already."""
    return cached_by_counts(
        "net-losses",
        journey,
        filters,
        fingerprint,
        lambda: (
            dict(unrecovered_failed_by_step(journey, filters, recovery)),
            dict(won_disputes_by_step(journey, filters)),
        ),
    )


def biggest_losses(
    cards: list,
    currencies: list[str],
    to_reporting: Callable[[dict[str, int]], Money],
    *,
    failed: dict | None = None,
    won: dict | None = None,
    top: int = 3,
):
    """The step cards (journeys.board_selectors.StepCard) losing the most money in the
    reporting currency (¥50,000 is not more than $495): failed payments not recovered, refunds,
    disputes not won and abandoned checkouts. Each of them gets its `loss_money`."""
    failed, won = failed or {}, won or {}
    losses = []
    for card in cards:
        key = card.step.pk if card.step else None
        amounts: dict[str, int] = dict(failed.get(key, {}))
        for total in card.kinds:
            if total.kind in GROSS_LOSS_KINDS:
                for currency, amount in total.amounts.items():
                    amounts[currency] = amounts.get(currency, 0) + amount
        for currency, amount in won.get(key, {}).items():
            amounts[currency] = amounts.get(currency, 0) - amount
        amounts = {c: v for c, v in amounts.items() if v > 0}
        if amounts:
            losses.append((card, sort_amounts(amounts, currencies), to_reporting(amounts)))
    rank = {c: i for i, c in enumerate(currencies)}

    def size(loss):
        # Without a rate a part converts to nothing: such steps fall back to the main
        # currency's amount.
        amounts, money = loss[1], loss[2]
        currency = min(amounts, key=lambda c: rank.get(c, 99))
        return (-money.total, rank.get(currency, 99), -amounts[currency])

    biggest = sorted(losses, key=size)[:top]
    for card, _, money in biggest:
        card.loss_money = money
    return [(card, amounts) for card, amounts, _ in biggest]
