"""Webhook ack benchmark: signed ~3 KB events (10 % duplicates) posted with concurrency to
gunicorn on PostgreSQL (a temporary database). Prints events/s, p50/p99 latency, non-2xx.

    .venv/bin/python tests/perf/bench_webhook.py
    BENCH_EVENTS=20000 BENCH_CONCURRENCY=16 BENCH_GUNICORN_WORKERS=3 .venv/bin/python tests/perf/...

BENCH_QCLUSTER=1 runs a qcluster meanwhile (the ack must stay fast with or without workers).
"""

import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness  # noqa: E402


def main() -> None:
    events = int(os.environ.get("BENCH_EVENTS", "10000"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "8"))
    workers = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
    threads = int(os.environ.get("BENCH_GUNICORN_THREADS", "4"))
    duplicates = float(os.environ.get("BENCH_DUPLICATES", "0.10"))
    with_qcluster = os.environ.get("BENCH_QCLUSTER") == "1"

    distinct = harness.make_events(int(events * (1 - duplicates)))
    rng = random.Random(3)
    bodies = distinct + [rng.choice(distinct) for _ in range(events - len(distinct))]
    rng.shuffle(bodies)
    warmup = harness.make_events(300, seed=99)
    size = sum(map(len, bodies)) / len(bodies)

    with harness.temp_database("postgres") as url:
        env = harness.env_for(url, DB_CONN_MAX_AGE="600")
        ids = harness.prepare(env)
        path = f"/hooks/stripe/{ids['uuid']}/"
        port = harness.free_port()
        server = harness.start_gunicorn(env, port, workers=workers, threads=threads)
        cluster = harness.start_qcluster(env) if with_qcluster else None
        try:
            harness.post_all(port, path, warmup, concurrency=concurrency)
            result = harness.post_all(port, path, bodies, concurrency=concurrency)
            statuses = harness.event_statuses(env)
        finally:
            harness.stop_group(server)
            if cluster:
                harness.stop_group(cluster)

    non_2xx = sum(n for status, n in result.statuses.items() if not 200 <= status < 300)
    print(harness.machine())
    print(
        f"webhook ack: {events} events (~{size / 1024:.1f} KB, {duplicates:.0%} duplicates), "
        f"concurrency {concurrency}, gunicorn {workers} workers × {threads} threads, PostgreSQL"
        + (", qcluster running" if with_qcluster else "")
    )
    print(f"  events/s: {len(result.latencies) / result.seconds:.0f}")
    print(
        f"  latency p50: {harness.percentile(result.latencies, 0.5) * 1000:.1f} ms, "
        f"p99: {harness.percentile(result.latencies, 0.99) * 1000:.1f} ms"
    )
    print(f"  non-2xx: {non_2xx}  (statuses {result.statuses})")
    print(f"  stored events by status: {statuses}")


if __name__ == "__main__":
    main()
