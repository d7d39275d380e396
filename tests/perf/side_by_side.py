"""Webhook acks side by side, in one run: Stripe's sync engine (../shared/bench/peer_syncengine.sh)
and Custory (gunicorn with gunicorn.conf.py on a temporary PostgreSQL database), under the same
load generator (../shared/bench/post_events.py: signed ~3 KB events of many customers, 10 %
duplicates) with the same arguments. Prints acks/s, p50/p99 for each, the ratio, and the
machine line; then checks that every event Custory acked is stored.

    .venv/bin/python tests/perf/side_by_side.py
    BENCH_EVENTS=10000 BENCH_CONCURRENCY=32 BENCH_ROUNDS=2 BENCH_PEER_PROCESSES=1 ...

The peer is installed on first use (`setup`: npm install into ~/.cache/peer-syncengine and a
database of its own, bench_syncengine_custory unless PEER_DB is set).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness  # noqa: E402

BENCH = harness.ROOT.parent / "shared" / "bench"
LIB = Path(__file__).resolve().parent / "stripe_events_lib"
PEER_ENV = {
    **os.environ,
    "DB": os.environ.get("PEER_DB", "bench_syncengine_custory"),
    "PORT": os.environ.get("PEER_PORT", str(harness.free_port())),
}


def peer(*args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        ["bash", str(BENCH / "peer_syncengine.sh"), *args],
        env=PEER_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"peer_syncengine.sh {args} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def load(url: str, secret: str, *, events: int, concurrency: int, warmup: int, seed: int) -> dict:
    """One run of the shared load generator; its JSON line."""
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "post_events.py"),
            *("--url", url, "--secret", secret, "--events", str(events)),
            *("--concurrency", str(concurrency), "--warmup", str(warmup), "--seed", str(seed)),
            *("--dup-rate", "0.1", "--duration-cap", "300", "--timeout", "30"),
        ],
        env={**os.environ, "STRIPE_EVENTS_LIB": str(LIB)},
        capture_output=True,
        text=True,
        timeout=400,
    )
    if out.returncode != 0:
        raise RuntimeError(f"post_events.py failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_peer(args: dict, processes: int) -> dict:
    root = Path(os.environ.get("ROOT", Path.home() / ".cache" / "peer-syncengine"))
    if not (root / "server.cjs").exists() or os.environ.get("PEER_SETUP") == "1":
        peer("setup")
    else:
        # The database may be missing (a fresh name): setup makes it and runs the migrations.
        try:
            peer("reset")
        except RuntimeError:
            peer("setup")
    lines = dict(
        line.split("=", 1) for line in peer("start", str(processes)).splitlines() if "=" in line
    )
    try:
        return load(lines["URL"], lines["SECRET"], **args)
    finally:
        peer("stop")


def run_custory(args: dict) -> tuple[dict, int]:
    with harness.temp_database("postgres") as url:
        env = harness.env_for(url, DB_CONN_MAX_AGE="600")
        ids = harness.prepare(env)
        port = harness.free_port()
        server = harness.start_gunicorn(env, port, workers=None, threads=None)
        try:
            result = load(
                f"http://127.0.0.1:{port}/hooks/stripe/{ids['uuid']}/", harness.SECRET, **args
            )
        finally:
            harness.stop_group(server)
        stored = sum(harness.event_statuses(env).values())
    return result, stored


def line(name: str, result: dict) -> str:
    non_2xx = result["non_2xx"] or {}
    return (
        f"  {name:<26} {result['ok_per_s']:>7.0f} acks/s   p50 {result['p50_ms']:>6.1f} ms   "
        f"p99 {result['p99_ms']:>6.1f} ms   non-2xx {non_2xx}  errors {result['errors']}"
    )


def main() -> None:
    args = {
        "events": int(os.environ.get("BENCH_EVENTS", "5000")),
        "concurrency": int(os.environ.get("BENCH_CONCURRENCY", "32")),
        "warmup": int(os.environ.get("BENCH_WARMUP", "500")),
        "seed": int(os.environ.get("BENCH_SEED", "14")),
    }
    rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
    processes = int(os.environ.get("BENCH_PEER_PROCESSES", "1"))
    print(harness.machine())
    print(
        f"side by side: {args['events']} signed events + 10 % duplicates, {args['warmup']} warm-up,"
        f" concurrency {args['concurrency']}, PostgreSQL for both, {rounds} round(s)"
    )
    best_peer = best_ours = None
    for round_ in range(1, rounds + 1):
        theirs = run_peer(args, processes)
        ours, stored = run_custory(args)
        load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"round {round_} (load average after it {load_average}):")
        print(line(f"sync engine ({processes} node)", theirs))
        print(line("Custory (gunicorn.conf.py)", ours))
        warm = args["warmup"]
        print(f"  Custory stored {stored} events for {args['events'] + warm} distinct acked")
        print(f"  ratio Custory / sync engine: {ours['ok_per_s'] / theirs['ok_per_s']:.2f}")
        best_peer = max(best_peer or 0, theirs["ok_per_s"])
        best_ours = max(best_ours or 0, ours["ok_per_s"])
    print(
        f"best: sync engine {best_peer:.0f} acks/s, Custory {best_ours:.0f} acks/s, ratio "
        f"{best_ours / best_peer:.2f}"
    )
    print(harness.machine())


if __name__ == "__main__":
    main()
