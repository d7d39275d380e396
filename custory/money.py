"""Money in minor units: currency exponents, formatting, parsing and monthly normalization.

Stripe sends every amount as an integer in the currency's smallest unit: cents for USD, yen for
JPY (a zero-decimal currency), fils for KWD. We keep them that way and only round once, when a
price billed every N weeks or years is turned into its monthly share.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "krw": "₩", "inr": "₹"}

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


def to_minor(value: Decimal, currency: str) -> int:
    """Decimal("49.00") usd → 4900, truncating digits the currency does not have."""
    return int(Decimal(value).scaleb(currency_exponent(currency)))


def major_text(amount: int | None, currency: str) -> str:
    """4900 usd → "49.00"; 5000 jpy → "5000"; None → "" (for CSV files)."""
    if amount is None:
        return ""
    return str(to_major(int(amount), currency))


def money_format(amount: int | None, currency: str, *, signed: bool = False) -> str:
    """4900, "eur" → "€49.00"; 5000, "jpy" → "¥5,000"; signed adds "+" to positive amounts."""
    if amount is None:
        return ""
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    number = f"{Decimal(abs(int(amount))).scaleb(-exponent):,.{exponent}f}"
    code = (currency or "").lower()
    if code in SYMBOLS:
        return f"{sign}{SYMBOLS[code]}{number}"
    if not code:
        return f"{sign}{number}"
    return f"{sign}{code.upper()} {number}"


def money_parse(text: str | Decimal, currency: str) -> int:
    """ "49.00" in EUR → 4900; refuses more decimals than the currency has (ValueError)."""
    try:
        value = Decimal(str(text).replace(",", "").strip())
    except InvalidOperation as error:
        raise ValueError("Enter an amount such as 49.00.") from error
    if not value.is_finite():
        raise ValueError("Enter an amount such as 49.00.")
    exponent = currency_exponent(currency)
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        places = "no decimals" if exponent == 0 else f"at most {exponent} decimals"
        raise ValueError(f"{currency.upper()} amounts have {places}.")
    return int(minor)


def monthly(amount: int | Decimal, *, interval: str, interval_count: int = 1) -> Decimal:
    """The monthly share of an amount billed every `interval_count` `interval`s (unrounded)."""
    months = MONTHS_PER_INTERVAL.get(interval or "month")
    if months is None:
        return Decimal(0)
    return Decimal(amount) / (months * max(int(interval_count or 1), 1))


def round_minor(value: Decimal) -> int:
    """Round to whole minor units, halves away from zero (the same rule for every currency)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
