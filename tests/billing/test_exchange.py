"""Exchange rates: ECB files parsed, the bundled history, the daily fetch job, lookups."""

import io
import threading
import zipfile
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.exchange import StoredRates, bundled_history, convert, ecb_rates_parse
from billing.exchange_jobs import exchange_rates_fetch, exchange_rates_load_bundled
from billing.filters import SignalFilterForm
from billing.models import RevenueSignal
from billing.revenue_models import ExchangeRate
from tests.factories import CustomerFactory, RevenueSignalFactory, WorkspaceFactory

DAILY = "Date, USD, JPY, BGN, CYP, \n03 December 2026, 1.0547, 158.12, 1.9558, N/A, \n"


def test_the_ecb_daily_file_is_parsed_and_na_skipped():
    rows = ecb_rates_parse(DAILY)
    assert rows == [
        (date(2026, 12, 3), "usd", Decimal("1.0547")),
        (date(2026, 12, 3), "jpy", Decimal("158.12")),
        (date(2026, 12, 3), "bgn", Decimal("1.9558")),
    ]


def test_the_bundled_history_is_the_ecbs_and_parses():
    text = bundled_history()
    assert text.startswith("Date,")
    rows = ecb_rates_parse(text, since=date(2024, 1, 1))
    usd = [rate for day, code, rate in rows if code == "usd"]
    assert len(usd) > 250 and all(Decimal("0.8") < r < Decimal("1.5") for r in usd)


@pytest.fixture
def ecb_server():
    """A local stand-in for the ECB: serves the daily file zipped, like the real one."""
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        archive.writestr("eurofxref.csv", DAILY)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/eurofxref.zip" else 404)
            self.end_headers()
            if self.path == "/eurofxref.zip":
                self.wfile.write(body.getvalue())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_daily_job_stores_the_ecb_rates_on_top_of_the_bundled_history(db, ecb_server):
    assert exchange_rates_fetch(f"{ecb_server}/eurofxref.zip") == 3
    assert ExchangeRate.objects.get(day=date(2026, 12, 3), currency="usd").per_eur == Decimal(
        "1.0547"
    )
    assert ExchangeRate.objects.filter(day__lt=date(2026, 1, 1)).exists()  # the bundled floor
    # Fetched again: nothing twice; a missing file changes nothing and raises nothing.
    count = ExchangeRate.objects.count()
    exchange_rates_fetch(f"{ecb_server}/eurofxref.zip")
    assert exchange_rates_fetch(f"{ecb_server}/gone.zip") == 0
    assert ExchangeRate.objects.count() == count


def test_a_weekend_takes_fridays_rate_and_conversion_uses_it(db):
    ExchangeRate.objects.create(day=date(2026, 6, 5), currency="usd", per_eur=Decimal("1.25"))
    ExchangeRate.objects.create(day=date(2026, 6, 5), currency="jpy", per_eur=Decimal("160"))
    rates = StoredRates()
    assert rates.per_eur("usd", date(2026, 6, 7)) == Decimal("1.25")  # a Sunday
    assert convert(1000, "eur", "usd", date(2026, 6, 7), rates) == 1250
    assert convert(1600, "jpy", "eur", date(2026, 6, 7), rates) == 1000  # ¥1,600 = €10.00
    assert rates.per_eur("chf", date(2026, 6, 7)) is None


def test_the_command_loads_the_bundled_history(db):
    call_command("exchange_rates_load", "--bundled", "--since", "2025-01-01", stdout=io.StringIO())
    assert ExchangeRate.objects.filter(currency="jpy", day__year=2025).count() > 200
    assert exchange_rates_load_bundled(since=date(2025, 1, 1)) > 0  # idempotent


def test_sorting_by_amount_sorts_by_converted_amount(db):
    workspace = WorkspaceFactory()
    today = timezone.now().date()
    ExchangeRate.objects.create(day=today, currency="usd", per_eur=Decimal("1.10"))
    ExchangeRate.objects.create(day=today, currency="jpy", per_eur=Decimal("165"))
    yen = CustomerFactory(workspace=workspace, currency="jpy")
    dollars = CustomerFactory(workspace=workspace, currency="usd")
    RevenueSignalFactory(workspace=workspace, customer=yen, amount=50000, currency="jpy")
    RevenueSignalFactory(workspace=workspace, customer=dollars, amount=49500, currency="usd")
    RevenueSignalFactory(workspace=workspace, customer=dollars, amount=10000, currency="usd")
    form = SignalFilterForm({"sort": "-amount"}, workspace=workspace)
    assert form.is_valid()
    rows = form.filter_signals(RevenueSignal.objects.for_workspace(workspace))
    # ¥50,000 ≈ $333: between $495 and $100, not above them because 50000 > 49500.
    assert [(s.amount, s.currency) for s in rows] == [
        (49500, "usd"),
        (50000, "jpy"),
        (10000, "usd"),
    ]
