"""Fault test: 2,000 events posted through the real view (gunicorn) while the real
`manage.py qcluster` is SIGKILLed at random moments and restarted. Afterwards every acked event
is stored once and processed, none twice; the sweep (run here as its schedule would) is what
brings back the events whose worker was killed.

Runs on its own database (a temporary PostgreSQL database when DATABASE_URL is PostgreSQL,
else a temporary SQLite file), so the subprocesses and the test see the same data.
"""

import json
import random
import threading
import time

import pytest

from tests.perf import harness

EVENTS = 2000
DUPLICATES = 100
LEASE_SECONDS = 3
MIN_KILLS = 8

VERIFY_CODE = """
import json
from django.db.models import Count
from billing.pipeline.jobs import events_sweep
from billing.models import RevenueSignal, StripeEvent
sweep = events_sweep() if %(sweep)s else {}
acked = set(json.load(open(%(acked)r)))
events = StripeEvent.objects.all()
stored = set(events.values_list("stripe_id", flat=True))
print(json.dumps({
    "sweep": sweep,
    "statuses": dict(events.values_list("status").annotate(n=Count("pk"))),
    "stored": events.count(),
    "distinct_stored": len(stored),
    "missing": sorted(acked - stored)[:10],
    "not_processed": list(events.filter(stripe_id__in=acked).exclude(status="processed")
                          .values_list("stripe_id", "status", "last_error")[:10]),
    "without_attempt": events.filter(status="processed", attempts=0).count(),
    "without_processed_at": events.filter(status="processed", processed_at=None).count(),
    "max_attempts": max(events.values_list("attempts", flat=True), default=0),
    "duplicate_signals": RevenueSignal.objects.values("event_id", "kind")
        .annotate(n=Count("pk")).filter(n__gt=1).count(),
}))
"""


@pytest.mark.slow
def test_acked_events_are_processed_exactly_once_while_the_cluster_is_killed(tmp_path):
    rng = random.Random()
    with harness.temp_database(tmp_dir=tmp_path) as url:
        env = harness.env_for(
            url,
            Q_WORKERS="2",
            Q_TIMEOUT="20",
            Q_RETRY="30",
            CUSTORY_EVENT_LEASE_SECONDS=str(LEASE_SECONDS),
            CUSTORY_EVENT_BATCH_SIZE="25",
        )
        ids = harness.prepare(env)
        path = f"/hooks/stripe/{ids['uuid']}/"
        distinct = harness.make_events(EVENTS, seed=rng.randrange(10**6))
        bodies = distinct + rng.sample(distinct, DUPLICATES)
        rng.shuffle(bodies)

        port = harness.free_port()
        server = harness.start_gunicorn(env, port, workers=2)
        cluster = [harness.start_qcluster(env)]
        stop = threading.Event()
        kills = []

        def killer():
            while not stop.wait(rng.uniform(0.8, 2.5)):
                harness.kill_group(cluster[0])
                kills.append(time.monotonic())
                time.sleep(rng.uniform(0.1, 0.6))
                cluster[0] = harness.start_qcluster(env)

        thread = threading.Thread(target=killer)
        try:
            thread.start()
            result = harness.post_all(port, path, bodies, concurrency=4, retries=3)
            # Keep killing for a while after the last ack: while the backlog is processed.
            until = time.monotonic() + 30
            while len(kills) < MIN_KILLS and time.monotonic() < until:
                time.sleep(0.2)
            stop.set()
            thread.join()
            acked_file = tmp_path / "acked.json"
            acked_file.write_text(json.dumps(result.acked))
            assert len(set(result.acked)) == EVENTS, result.statuses

            # The last cluster keeps running; the sweep runs as its schedule would, after the
            # claims of killed workers have run out, until everything acked is processed.
            deadline = time.monotonic() + 60
            while True:
                time.sleep(LEASE_SECONDS + 0.5)
                facts = harness.django_eval(
                    env, VERIFY_CODE % {"sweep": "True", "acked": str(acked_file)}
                )
                if not facts["missing"] and not facts["not_processed"]:
                    break
                assert time.monotonic() < deadline, facts
            time.sleep(1)
            facts = harness.django_eval(
                env, VERIFY_CODE % {"sweep": "False", "acked": str(acked_file)}
            )
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
            harness.stop_group(cluster[0])
            harness.stop_group(server)

    assert len(kills) >= MIN_KILLS, "the cluster was not killed often enough to mean anything"
    assert facts["missing"] == []
    assert facts["not_processed"] == []
    assert facts["stored"] == facts["distinct_stored"] == EVENTS
    assert facts["statuses"] == {"processed": EVENTS}
    assert facts["without_attempt"] == facts["without_processed_at"] == 0
    assert facts["duplicate_signals"] == 0
    print(
        f"\nfault test: {len(kills)} SIGKILLs, statuses {facts['statuses']}, "
        f"max attempts {facts['max_attempts']}, post statuses {result.statuses}"
    )
