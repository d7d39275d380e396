"""Processing benchmark: a backlog of pending events drained by the real jobs under a real
`manage.py qcluster`, with the ORM broker on PostgreSQL and with the Redis broker, for two mixes:
`demo` (the demo generator: about 11 events per customer over six months) and `new` (the shared
load generator's events, ../shared/bench/post_events.py: a new customer per event — a new
workspace's first import, or a billing run across thousands of customers). Prints events/s for
each. Each run gets its own temporary PostgreSQL database (and the workspace's default journey
and task rules, as the product makes them).

    .venv/bin/python tests/perf/bench_processing.py
    BENCH_BACKLOG=20000 BENCH_Q_WORKERS=2 BENCH_BROKERS=orm,redis BENCH_MIXES=demo,new \
        BENCH_REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python tests/perf/bench_processing.py
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness  # noqa: E402

LOAD_CODE = """
import json, time
from billing.pipeline.demo import demo_events
from billing.pipeline.ingest import events_store
from billing.models import StripeConnection
connection = StripeConnection.objects.get(pk=%(connection)d)
started = time.perf_counter()
# The demo generator's six months of many customers' lives (about 11 events a customer), so
# the workload has the demo's mix of types and spreads over customers as real traffic does.
payloads = demo_events(seed=11, customers=max(1, %(count)d // 10), months=6)[:%(count)d]
for i in range(0, len(payloads), 2000):
    events_store(connection=connection, payloads=payloads[i:i + 2000], source="webhook", wake=False)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""

LOAD_NEW_CODE = """
import json, sys, time
sys.path.insert(0, %(bench)r)
import post_events
from billing.pipeline.ingest import events_store
from billing.models import StripeConnection
connection = StripeConnection.objects.get(pk=%(connection)d)
started = time.perf_counter()
bodies = post_events.build_payloads(%(count)d, 14, "2024-06-20", 3000, False)
payloads = [json.loads(body) for _, _, body in bodies]
for i in range(0, len(payloads), 2000):
    events_store(connection=connection, payloads=payloads[i:i + 2000], source="webhook", wake=False)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""

WAKE_CODE = """
import json, time
from billing.pipeline.jobs import drain_request
print(json.dumps({"woke": drain_request(force=True), "at": time.time()}))
"""


def remaining(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM billing_stripeevent GROUP BY status"
        ).fetchall()
    return dict(rows)


def commits(url: str) -> tuple[float, float, float]:
    """The first and the last group's commit (each group stamps its events with one
    processed_at), as Unix times, and the events/s between them: the drain's steady rate,
    without starting the cluster's work and the wake-up."""
    import psycopg

    with psycopg.connect(url) as conn:
        first, last = conn.execute(
            "SELECT min(processed_at), max(processed_at) FROM billing_stripeevent "
            "WHERE status = 'processed'"
        ).fetchone()
        if first is None:
            return 0.0, 0.0, 0.0
        if last == first:
            return first.timestamp(), last.timestamp(), 0.0
        (after_first,) = conn.execute(
            "SELECT count(*) FROM billing_stripeevent "
            "WHERE status = 'processed' AND processed_at > %s",
            (first,),
        ).fetchone()
    steady = after_first / (last - first).total_seconds()
    return first.timestamp(), last.timestamp(), steady


def waiting(url: str) -> bool:
    """Whether any event is still pending or processing: an index probe, not a count, so
    watching the drain does not slow it down."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT 1 FROM billing_stripeevent WHERE status IN ('pending', 'processing') LIMIT 1"
        ).fetchone()
    return row is not None


def run(broker: str, backlog: int, workers: int, mix: str = "demo") -> tuple[float, float]:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
    with harness.temp_database("postgres") as url:
        extra = {"Q_WORKERS": str(workers), "DB_CONN_MAX_AGE": "600"}
        if broker == "redis":
            import redis

            extra["REDIS_URL"] = redis_url
            redis.from_url(redis_url).delete("django_q:custory:q")
        extra["STRIPE_EVENTS_LIB"] = str(Path(__file__).resolve().parent / "stripe_events_lib")
        env = harness.env_for(url, **extra)
        ids = harness.prepare(env)
        code = LOAD_NEW_CODE if mix == "new" else LOAD_CODE
        bench = str(harness.ROOT.parent / "shared" / "bench")
        values = {"connection": ids["connection"], "count": backlog, "bench": bench}
        loaded = harness.django_eval(env, code % values, timeout=900)
        print(f"  [{mix}, {broker}] backlog of {backlog} stored in {loaded['seconds']:.1f} s")
        cluster = harness.start_qcluster(env)
        try:
            time.sleep(3)  # let the cluster start its workers
            # When the drain job was enqueued, not when the process enqueueing it started.
            woken = harness.django_eval(env, WAKE_CODE)["at"]
            deadline = woken + 1800
            drained = False
            while not drained and time.time() < deadline:
                drained = not waiting(url)
                if not drained:
                    time.sleep(0.5)
            watched_until = time.time()
        finally:
            harness.stop_group(cluster)
        counts = remaining(url)
        first, last, steady = commits(url)
    # From the wake-up to the last event's commit (not to when the watcher, polling every
    # 0.5 s, saw it): the same clock, this machine's. A drain that did not finish counts until
    # the watcher gave up.
    seconds = (last if drained and last else watched_until) - woken
    rate = counts.get("processed", 0) / seconds
    first_commit = f"{first - woken:.2f} s" if first else "never"
    print(
        f"  [{mix}, {broker}] drained in {seconds:.1f} s: {rate:.0f} events/s, first commit "
        f"{first_commit} after the wake-up, sustained {steady:.0f}/s between the first "
        f"and last commit  (final {counts})"
    )
    return rate, steady


def main() -> None:
    backlog = int(os.environ.get("BENCH_BACKLOG", "50000"))
    workers = int(os.environ.get("BENCH_Q_WORKERS", "2"))
    brokers = os.environ.get("BENCH_BROKERS", "orm,redis").split(",")
    mixes = os.environ.get("BENCH_MIXES", "demo,new").split(",")
    print(harness.machine())
    print(
        f"processing: {backlog} pending events, qcluster with {workers} workers, "
        f"batch {os.environ.get('CUSTORY_EVENT_BATCH_SIZE', '800')}, PostgreSQL"
    )
    rates = {}
    for mix in mixes:
        for broker in brokers:
            rates[mix, broker] = run(broker.strip(), backlog, workers, mix.strip())
    print(harness.machine())
    for (mix, broker), (rate, steady) in rates.items():
        print(
            f"  {mix:<5} mix, {broker:<5} broker: {rate:>6.0f} events/s from the wake-up to the "
            f"last event, {steady:>6.0f} sustained"
        )


if __name__ == "__main__":
    main()
