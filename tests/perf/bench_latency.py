"""Latency benchmark: signed events posted at a steady rate (default 100 events/s for 30 s) to
gunicorn (gunicorn.conf.py) with a `manage.py qcluster` draining meanwhile, on a temporary
PostgreSQL database. Prints, for events that made a signal, webhook receipt → signal visible on
the board (the event's `received_at` to its `processed_at`, which commits with its signals,
placements and rollups) p50/p95/p99/max, and the acks' own latency.

    .venv/bin/python tests/perf/bench_latency.py
    BENCH_RATE=100 BENCH_SECONDS=30 BENCH_BROKER=orm|redis BENCH_REDIS_URL=redis://127.0.0.1:6379/1
"""

import http.client
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness  # noqa: E402

LIB = Path(__file__).resolve().parent / "stripe_events_lib"
BENCH = harness.ROOT.parent / "shared" / "bench"

LATENCY_SQL = """
SELECT extract(epoch FROM e.processed_at - e.received_at)
FROM billing_stripeevent e
WHERE e.processed_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM billing_revenuesignal s WHERE s.event_id = e.id)
"""


def bodies(count: int) -> list[bytes]:
    """The shared load generator's events (many customers; signals on most of them)."""
    os.environ["STRIPE_EVENTS_LIB"] = str(LIB)
    sys.path.insert(0, str(BENCH))
    import post_events

    return [body for _, _, body in post_events.build_payloads(count, 15, "2024-06-20", 3000, False)]


def paced_post(port: int, path: str, payloads: list[bytes], rate: float) -> list[float]:
    """POST payloads[i] at start + i/rate (a steady rate, not as fast as possible)."""
    lock = threading.Lock()
    state = {"next": 0}
    acks: list[float] = []
    started = time.perf_counter() + 0.2

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                index = state["next"]
                state["next"] += 1
            if index >= len(payloads):
                break
            time.sleep(max(0.0, started + index / rate - time.perf_counter()))
            body = payloads[index]
            sent = time.perf_counter()
            try:
                conn.request(
                    "POST", path, body=body, headers={"Stripe-Signature": harness.sign(body)}
                )
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            with lock:
                acks.append(time.perf_counter() - sent)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return acks


def main() -> None:
    import psycopg

    rate = float(os.environ.get("BENCH_RATE", "100"))
    seconds = float(os.environ.get("BENCH_SECONDS", "30"))
    broker = os.environ.get("BENCH_BROKER", "orm")
    payloads = bodies(int(rate * seconds))
    with harness.temp_database("postgres") as url:
        extra = {"DB_CONN_MAX_AGE": "600"}
        if broker == "redis":
            extra["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
        env = harness.env_for(url, **extra)
        ids = harness.prepare(env)
        port = harness.free_port()
        server = harness.start_gunicorn(env, port, workers=None, threads=None)
        cluster = harness.start_qcluster(env)
        try:
            time.sleep(3)  # the cluster's workers start
            acks = paced_post(port, f"/hooks/stripe/{ids['uuid']}/", payloads, rate)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with psycopg.connect(url) as conn:
                    if not conn.execute(
                        "SELECT 1 FROM billing_stripeevent"
                        " WHERE status IN ('pending', 'processing') LIMIT 1"
                    ).fetchone():
                        break
                time.sleep(0.5)
            with psycopg.connect(url) as conn:
                latencies = [float(row[0]) for row in conn.execute(LATENCY_SQL)]
        finally:
            harness.stop_group(cluster)
            harness.stop_group(server)
    print(harness.machine())
    print(
        f"latency: {len(payloads)} events at {rate:.0f}/s for {seconds:.0f} s, {broker} broker, "
        "gunicorn.conf.py + qcluster (2 workers), PostgreSQL"
    )
    print(
        f"  acks: {len(acks)}, p50 {harness.percentile(acks, 0.5) * 1000:.1f} ms, "
        f"p99 {harness.percentile(acks, 0.99) * 1000:.1f} ms"
    )
    print(
        f"  receipt → signal visible ({len(latencies)} events with signals): "
        f"p50 {harness.percentile(latencies, 0.5):.2f} s, "
        f"p95 {harness.percentile(latencies, 0.95):.2f} s, "
        f"p99 {harness.percentile(latencies, 0.99):.2f} s, max {max(latencies, default=0):.2f} s"
    )


if __name__ == "__main__":
    main()
