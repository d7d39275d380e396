"""The money filters every template has (a builtin): {{ amount|money:currency }} and friends."""

from django import template

from custory.money import money_format

register = template.Library()

NO_BREAK_SPACE, WORD_JOINER = "\u00a0", "\u2060"


def _unbreakable(figure: str) -> str:
    """A figure never wraps on a page: no-break space after a code, a joiner after a sign."""
    figure = figure.replace(" ", NO_BREAK_SPACE)
    if figure[:1] in ("-", "+"):
        figure = figure[0] + WORD_JOINER + figure[1:]
    return figure


@register.filter
def money(amount, currency):
    """{{ signal.amount|money:signal.currency }} → "€49.00"."""
    return _unbreakable(money_format(amount, currency))


@register.filter
def money_signed(amount, currency):
    """{{ delta|money_signed:"usd" }} → "+$10.00"."""
    return _unbreakable(money_format(amount, currency, signed=True))


def _joined(per_currency, *, signed: bool) -> str:
    if not per_currency:
        return "—"
    items = per_currency.items() if isinstance(per_currency, dict) else per_currency
    return " · ".join(
        _unbreakable(money_format(value, currency, signed=signed)) for currency, value in items
    )


@register.filter
def amounts(per_currency):
    """[("eur", 4900), ("jpy", 5000)] → "€49.00 · ¥5,000" (never converted)."""
    return _joined(per_currency, signed=False)


@register.filter
def amounts_signed(per_currency):
    return _joined(per_currency, signed=True)
