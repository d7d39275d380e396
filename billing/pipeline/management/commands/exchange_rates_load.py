"""Load ECB reference rates now: the bundled history, or the configured (or given) URL."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from billing.exchange_jobs import exchange_rates_fetch, exchange_rates_load_bundled


class Command(BaseCommand):
    help = "Store ECB euro reference rates (what the daily job does), for conversions."

    def add_arguments(self, parser):
        parser.add_argument("--bundled", action="store_true", help="Only the bundled history.")
        parser.add_argument("--since", help="With --bundled: from this day, YYYY-MM-DD.")
        parser.add_argument("--url", help="Fetch this URL instead of CUSTORY_ECB_RATES_URL.")

    def handle(self, *args, **options):
        if options["bundled"]:
            try:
                since = date.fromisoformat(options["since"]) if options["since"] else None
            except ValueError as error:
                raise CommandError("--since must be a date as YYYY-MM-DD.") from error
            count = exchange_rates_load_bundled(since=since)
        else:
            count = exchange_rates_fetch(options["url"])
        self.stdout.write(f"{count} rates offered (already stored ones are kept).")
