"""Task rule title/description templates: the placeholders they may use, checking and filling them.

Templates use `{name}` placeholders filled with plain strings only; attribute access, indexing and
format specs are refused on write, so a template can never reach into Python objects.
"""

from string import Formatter

PLACEHOLDERS: dict[str, str] = {
    "customer": "the customer's name (or email)",
    "customer_email": "the customer's email address",
    "amount": "the signal's amount with its currency, e.g. €49.00",
    "kind": "what happened, e.g. failed payment",
    "step": "the journey step, e.g. Pay & retain › Recurring payment",
    "count": "how many signals of this kind the customer had in the rule's window",
    "attempt": "the payment attempt number, when Stripe gives one",
    "mrr": "the customer's monthly recurring revenue",
    "rule": "the rule's name",
    "link": "an absolute link to the signal",
}


def template_errors(text: str) -> list[str]:
    """Why a template cannot be used, as sentences; an empty list when it is fine."""
    try:
        parsed = list(Formatter().parse(text))
    except ValueError:
        return ["A brace is not closed: write placeholders like {customer}, and {{ for a brace."]
    errors: list[str] = []
    allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            shown = "{" + field + "}" if field else "{}"
            errors.append(f"Unknown placeholder {shown}. You can use {allowed}.")
        elif spec or conversion:
            errors.append(f"Write the placeholder plainly as {{{field}}}.")
    return errors


def template_render(text: str, values: dict[str, str]) -> str:
    """Fill a template; an unusable one (saved before a check existed) is returned as written."""
    if template_errors(text):
        return text
    return text.format_map({name: values.get(name, "") for name in PLACEHOLDERS})
