"""Compare a connection's current subscriptions and MRR with Stripe's live list, and look for
events Stripe kept (30 days) that never arrived; exit 1 when anything differs."""

import sys

from django.core.management.base import BaseCommand, CommandError

from billing.pipeline.history.cli import connection_pick
from billing.pipeline.history.reconcile import reconcile
from billing.pipeline.stripe_api import StripeAPIError


class Command(BaseCommand):
    help = "Reconcile subscriptions and MRR with Stripe; exit non-zero when they differ."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="The workspace's slug.")
        parser.add_argument("--label", default="", help="Which connection, when there are several.")

    def handle(self, *args, **options):
        connection = connection_pick(options["workspace"], options["label"])
        try:
            result = reconcile(connection=connection)
        except StripeAPIError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"Subscriptions counted in MRR: ours {result.ours_count}, Stripe {result.stripe_count}"
        )
        self.stdout.write(f"MRR (minor units): ours {result.ours_mrr}, Stripe {result.stripe_mrr}")
        for difference in result.differences:
            self.stdout.write(
                f"  {difference.customer_id} {difference.subscription_id}: {difference.why}"
            )
        self.stdout.write(f"Events of the last 30 days never received: {len(result.gaps)}")
        for event_id in result.gaps[:50]:
            self.stdout.write(f"  {event_id}")
        if result.matches:
            self.stdout.write(self.style.SUCCESS("In sync with Stripe."))
            return
        self.stdout.write(self.style.ERROR("Differences found."))
        sys.exit(1)
