"""The daily exchange-rate job: the ECB's reference rates, with the bundled history as a floor."""

import io
import logging
import zipfile
from datetime import date, timedelta

import requests
from django.conf import settings
from django.utils import timezone

from billing.exchange import bundled_history, ecb_rates_parse, exchange_rates_store
from billing.revenue_models import ExchangeRate

logger = logging.getLogger(__name__)

FETCH_JOB = "billing.exchange_jobs.exchange_rates_fetch"
FETCH_SCHEDULE_NAME = "billing-exchange-rates-fetch"
TIMEOUT_SECONDS = 10


def rates_text(body: bytes) -> str:
    """The CSV inside an ECB download: a zip of one file, or the CSV itself."""
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return archive.read(archive.namelist()[0]).decode("utf-8", "replace")
    return body.decode("utf-8", "replace")


BUNDLED_YEARS = 3


def exchange_rates_load_bundled(*, since: date | None = None) -> int:
    """Store the bundled ECB history of the last three years (or from `since`); rates already
    stored are kept. Return how many were offered."""
    since = since or timezone.now().date() - timedelta(days=366 * BUNDLED_YEARS)
    return exchange_rates_store(rows=ecb_rates_parse(bundled_history(), since=since))


def exchange_rates_fetch(url: str | None = None) -> int:
    """The scheduled job: fetch the configured ECB file and store its rates. With no rates yet
    the bundled history goes in first, so a machine without internet still converts."""
    if not ExchangeRate.objects.filter(source="ecb").exists():
        exchange_rates_load_bundled()
    url = settings.CUSTORY_ECB_RATES_URL if url is None else url
    if not url:
        return 0
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False)
        response.raise_for_status()
    except requests.RequestException as error:
        logger.warning("ECB rates not fetched from %s: %s", url, error)
        return 0
    return exchange_rates_store(rows=ecb_rates_parse(rates_text(response.content)))


def exchange_rates_schedule_ensure(*, using: str = "default", **kwargs) -> None:
    """Create the daily rate-fetch Schedule if it is missing (after migrate)."""
    from django_q.models import Schedule

    if not Schedule.objects.using(using).filter(name=FETCH_SCHEDULE_NAME).exists():
        Schedule.objects.using(using).create(
            name=FETCH_SCHEDULE_NAME,
            func=FETCH_JOB,
            schedule_type=Schedule.DAILY,
            repeats=-1,
        )
