"""Money in minor units, written and read with the currency's exponent (JPY and KRW have none)."""

from decimal import Decimal, InvalidOperation

# Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals.
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL_CURRENCIES = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "krw": "₩", "inr": "₹"}


def currency_exponent(currency: str) -> int:
    code = (currency or "").lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def money_format(amount: int | None, currency: str) -> str:
    """4900, "eur" → "€49.00"; 5000, "jpy" → "¥5,000"; 1234, "chf" → "CHF 12.34"."""
    if amount is None:
        return ""
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    number = f"{Decimal(abs(amount)).scaleb(-exponent):,.{exponent}f}"
    code = (currency or "").lower()
    if code in SYMBOLS:
        return f"{sign}{SYMBOLS[code]}{number}"
    return f"{sign}{code.upper()} {number}".strip()


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
