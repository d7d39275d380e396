"""Pure helpers: money with the currency's exponent, and rule templates."""

import pytest

from custory.money import money_format, money_parse
from tasks.conditions import conditions_validate
from tasks.templating import template_errors, template_render


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (4900, "eur", "€49.00"),
        (4900, "EUR", "€49.00"),
        (123456789, "usd", "$1,234,567.89"),
        (5000, "jpy", "¥5,000"),
        (15000, "krw", "₩15,000"),
        (1234, "chf", "CHF 12.34"),
        (1234, "kwd", "KWD 1.234"),
        (-250, "gbp", "-£2.50"),
        (0, "usd", "$0.00"),
        (None, "usd", ""),
    ],
)
def test_money_is_written_with_the_currencys_exponent(amount, currency, text):
    assert money_format(amount, currency) == text


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("49.00", "eur", 4900), ("1,000", "usd", 100_000), ("5000", "jpy", 5000), ("0.5", "gbp", 50)],
)
def test_money_is_read_into_minor_units(text, currency, minor):
    assert money_parse(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("49.5", "jpy", "JPY amounts have no decimals."),
        ("1.001", "usd", "USD amounts have at most 2 decimals."),
        ("lots", "usd", "Enter an amount such as 49.00."),
        ("NaN", "usd", "Enter an amount such as 49.00."),
    ],
)
def test_money_that_cannot_be_read_is_refused_with_a_reason(text, currency, message):
    with pytest.raises(ValueError, match=message):
        money_parse(text, currency)


def test_a_template_fills_its_placeholders():
    text = "Call {customer} about {amount} ({kind}), {{literally}}"
    values = {"customer": "Acme", "amount": "€49.00", "kind": "failed payment"}
    assert template_render(text, values) == "Call Acme about €49.00 (failed payment), {literally}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope}", "Unknown placeholder {nope}."),
        ("{customer.__class__.__mro__}", "Unknown placeholder {customer.__class__.__mro__}."),
        ("{customer[0]}", "Unknown placeholder {customer[0]}."),
        ("{0}", "Unknown placeholder {0}."),
        ("{customer:>99999999}", "Write the placeholder plainly as {customer}."),
        ("{customer", "A brace is not closed"),
        ("customer}", "A brace is not closed"),
    ],
)
def test_templates_may_only_use_known_placeholders_plainly(text, message):
    errors = template_errors(text)
    assert errors and errors[0].startswith(message)


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([], "Conditions must be a JSON object."),
        ({"colour": "red"}, "Unknown condition colour."),
        ({"amount_min": 100}, "Money conditions need a currency."),
        ({"amount_min": -1, "currency": "usd"}, "amount_min must be a whole number"),
        ({"amount_min": True, "currency": "usd"}, "amount_min must be a whole number"),
        ({"amount_min": 1, "currency": "dollars"}, "three-letter ISO code"),
        ({"step": "x"}, "step must be a step's id."),
        ({"repeat_count": 1, "repeat_days": 3}, "at least 2 signals"),
        ({"repeat_count": 2}, "a window of 1 to 365 days"),
        ({"repeat_days": 2}, "needs a number of signals"),
    ],
)
def test_rule_conditions_are_validated_on_write(conditions, message):
    with pytest.raises(ValueError, match=message):
        conditions_validate(conditions)
