"""Seeding a workspace with the demo history, through the pipeline's own ingestion and jobs."""

import secrets
from collections.abc import Callable

from billing.models import ConnectionStatus, EventSource, StripeConnection
from billing.pipeline.connections import connection_create
from billing.pipeline.demo.life import demo_events
from billing.pipeline.ingest import events_store
from billing.pipeline.jobs import events_process_batch
from custory import crypto


def demo_connection(*, workspace, actor) -> StripeConnection:
    """The workspace's test-mode connection, created with a dummy signing secret if it has none."""
    existing = (
        StripeConnection.objects.filter(workspace=workspace, livemode=False)
        .filter(status=ConnectionStatus.ACTIVE)
        .first()
    )
    if existing is not None:
        return existing
    if not crypto.encryption_configured():
        return StripeConnection.objects.create(
            workspace=workspace, label="Demo (test mode)", connected_by=actor
        )
    # A random secret nobody knows: the endpoint exists and verifies, but only the demo feeds it.
    return connection_create(
        workspace=workspace,
        actor=actor,
        webhook_secret=f"whsec_{secrets.token_hex(24)}",
        label="Demo (test mode)",
        livemode=False,
    )


def demo_seed(
    *,
    workspace,
    actor,
    seed: int = 7,
    customers: int = 300,
    months: int = 6,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Store and process the demo history (again: nothing new); return (stored, processed)."""
    connection = demo_connection(workspace=workspace, actor=actor)
    payloads = demo_events(seed=seed, customers=customers, months=months)
    stored = events_store(
        connection=connection, payloads=payloads, source=EventSource.WEBHOOK, wake=False
    )
    # The same jobs a qcluster runs, here in this process, so the demo is ready when seeding ends.
    processed = 0
    while claimed := events_process_batch():
        processed += claimed
        if progress is not None:
            progress(processed, stored)
    return stored, processed
