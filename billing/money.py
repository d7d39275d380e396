"""Money in minor units: currency exponents, and recurring prices normalized to a month.

Stripe sends every amount as an integer in the currency's smallest unit: cents for USD, yen for
JPY (a zero-decimal currency), fils for KWD. We keep them that way and only round once, when a
price billed every N weeks or years is turned into its monthly share.
"""

from decimal import ROUND_HALF_UP, Decimal

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

# How many months one interval unit lasts.
MONTHS_PER_INTERVAL = {
    "day": Decimal(12) / Decimal(365),
    "week": Decimal(12) / Decimal(52),
    "month": Decimal(1),
    "year": Decimal(12),
}


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point: 0 for JPY, 3 for KWD, 2 for everything else."""
    code = (currency or "").lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def to_major(amount: int, currency: str) -> Decimal:
    """4900 usd → Decimal("49.00"); 5000 jpy → Decimal("5000")."""
    exponent = currency_exponent(currency)
    return (Decimal(amount) / (Decimal(10) ** exponent)).quantize(Decimal(1).scaleb(-exponent))


def monthly(amount: int | Decimal, *, interval: str, interval_count: int = 1) -> Decimal:
    """The monthly share of an amount billed every `interval_count` `interval`s (unrounded)."""
    months = MONTHS_PER_INTERVAL.get(interval or "month")
    if months is None:
        return Decimal(0)
    return Decimal(amount) / (months * max(int(interval_count or 1), 1))


def round_minor(value: Decimal) -> int:
    """Round to whole minor units, halves away from zero (the same rule for every currency)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
