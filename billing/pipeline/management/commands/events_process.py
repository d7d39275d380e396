"""Process every due Stripe event now, in this process (no qcluster needed): demos, operations."""

from django.core.management.base import BaseCommand

from billing.models import EventStatus, StripeEvent
from billing.pipeline import jobs


class Command(BaseCommand):
    help = "Put back stuck events (the sweep), then process due events until none are left."

    def handle(self, *args, **options):
        swept = jobs.events_sweep()
        total = 0
        while claimed := jobs.events_process_batch():
            total += claimed
        failed = StripeEvent.objects.filter(status=EventStatus.FAILED).count()
        self.stdout.write(
            f"Processed {total} events ({swept['requeued']} stuck ones put back); "
            f"{failed} failed in all."
        )
