"""The history import: a Stripe account's history rebuilt from its objects, then refined by
the events Stripe keeps (30 days), resumable, under a request-rate budget."""
