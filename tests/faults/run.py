"""Fault runs: signed Stripe events posted while web workers and the qcluster are SIGKILLed at
random moments and PostgreSQL is restarted mid-load; then every acked event must be stored and
processed exactly once, the webhook must have answered 503 (never 2xx) while the database was
down, and processing must resume by itself.

    .venv/bin/python tests/faults/run.py --runs 50 --broker orm|redis

PostgreSQL is a private cluster (15/faults on port 5433, created on demand with trust auth on
127.0.0.1), so restarting it never disturbs the shared server on 5432. Each run uses a fresh
workspace and connection in one database migrated once. Figures are printed, not asserted;
tests/faults/test_fault_runs.py runs one short run per broker in CI.
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness  # noqa: E402

PG_VERSION, PG_CLUSTER, PG_PORT = "15", "faults", 5433
ADMIN_URL = f"postgres://postgres@127.0.0.1:{PG_PORT}/postgres"
LEASE_SECONDS = 2

RUN_SETUP = """
import json
from custory import crypto
from billing.models import StripeConnection, WebhookSecret
from custory.models import Workspace
ws = Workspace.objects.create(slug=%(slug)r, name=%(slug)r)
c = StripeConnection.objects.create(workspace=ws, label="Faults", account_id="acct_" + %(slug)r)
WebhookSecret.objects.create(connection=c, secret_encrypted=crypto.encrypt(%(secret)r), hint="f")
print(json.dumps({"uuid": str(c.uuid), "workspace": ws.pk}))
"""

VERIFY = """
import json
from django.db.models import Count
from billing.pipeline.jobs import events_sweep
from billing.models import RevenueSignal, StripeEvent
if %(sweep)s:
    events_sweep()
acked = set(json.load(open(%(acked)r)))
events = StripeEvent.objects.filter(workspace_id=%(workspace)d)
stored = list(events.values_list("stripe_id", flat=True))
print(json.dumps({
    "stored": len(stored),
    "distinct": len(set(stored)),
    "lost": len(acked - set(stored)),
    "statuses": dict(events.values_list("status").annotate(n=Count("pk"))),
    "acked_unprocessed": events.filter(stripe_id__in=acked).exclude(status="processed").count(),
    "duplicate_signals": RevenueSignal.objects.filter(workspace_id=%(workspace)d)
        .values("event_id", "kind").annotate(n=Count("pk")).filter(n__gt=1).count(),
}))
"""


def sh(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def ensure_cluster() -> None:
    """The private cluster, created (trust on localhost) and started when needed."""
    listing = sh("pg_lsclusters", "--no-header").stdout.split("\n")
    mine = [line.split() for line in listing if line.split()[:2] == [PG_VERSION, PG_CLUSTER]]
    if not mine:
        created = sh(
            "pg_createcluster",
            PG_VERSION,
            PG_CLUSTER,
            "-p",
            str(PG_PORT),
            "--start",
            "--",
            "--auth=trust",
            timeout=180,
        )
        if created.returncode != 0:
            raise RuntimeError(f"pg_createcluster failed: {created.stderr[-2000:]}")
    elif mine[0][3] != "online":
        sh("pg_ctlcluster", PG_VERSION, PG_CLUSTER, "start", timeout=120)


def pg_restart() -> float:
    """Restart the private cluster (fast mode); return how long it took."""
    started = time.monotonic()
    sh("pg_ctlcluster", "-m", "fast", PG_VERSION, PG_CLUSTER, "restart", timeout=120)
    return time.monotonic() - started


def gunicorn_workers(server) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    try:
        return [int(pid) for pid in children.read_text().split()]
    except OSError:
        return []


def database_up() -> bool:
    import psycopg

    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=1) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


class Chaos:
    """Kills web workers and the qcluster at random moments; restarts PostgreSQL once, timing
    the real outage with a probe (down from the first refused connection to the first good one)."""

    def __init__(self, env, server, rng, pg_after: float, poke=None):
        self.env, self.server, self.rng, self.pg_after = env, server, rng, pg_after
        self.poke = poke  # posts one more event: the webhook is tried while the database is down
        self.cluster = harness.start_qcluster(env)
        self.stop = threading.Event()
        self.counts = {"web_kills": 0, "qcluster_kills": 0, "pg_restarts": 0}
        self.outage: tuple[float, float] | None = None
        self.threads = [
            threading.Thread(target=self.kill, daemon=True),
            threading.Thread(target=self.restart_database, daemon=True),
        ]

    def start(self):
        for thread in self.threads:
            thread.start()

    def kill(self):
        import os
        import signal

        while not self.stop.wait(self.rng.uniform(0.8, 2.0)):
            if self.rng.random() < 0.5:
                workers = gunicorn_workers(self.server)
                if workers:
                    os.kill(self.rng.choice(workers), signal.SIGKILL)
                    self.counts["web_kills"] += 1
            else:
                harness.kill_group(self.cluster)
                self.counts["qcluster_kills"] += 1
                time.sleep(self.rng.uniform(0.1, 0.5))
                self.cluster = harness.start_qcluster(self.env)

    def restart_database(self):
        if self.stop.wait(self.pg_after):
            return
        restart = threading.Thread(target=pg_restart, daemon=True)
        restart.start()
        down = None
        while restart.is_alive() or down is not None:
            up = database_up()
            if not up and down is None:
                down = time.monotonic()
            elif up and down is not None:
                self.outage = (down, time.monotonic())
                break
            if down is not None and self.poke:
                self.poke()
            time.sleep(0.05)
        restart.join(timeout=120)
        self.counts["pg_restarts"] += 1
        self.outage = self.outage or (0.0, 0.0)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(timeout=150)


class Poker:
    """While the database is down: POST fresh events one at a time, logging each answer."""

    def __init__(self, port: int, path: str, bodies: list[bytes], acked: list, log: list):
        self.port, self.path, self.bodies, self.acked, self.log = port, path, bodies, acked, log

    def __call__(self):
        import http.client

        if not self.bodies:
            return
        body = self.bodies.pop()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json", "Stripe-Signature": harness.sign(body)}
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            conn.close()
        self.log.append((time.monotonic(), status))
        if 200 <= status < 300:
            self.acked.append(json.loads(body)["id"])


def post_until_acked(
    port: int, path: str, bodies: list[bytes], concurrency: int = 4, log=None, acked=None
):
    """POST each body until a 2xx (for up to 45 s); every attempt is logged with its time."""
    import http.client

    log = [] if log is None else log
    acked = [] if acked is None else acked
    lock = threading.Lock()
    queue = list(reversed(bodies))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            give_up = time.monotonic() + 45
            while time.monotonic() < give_up:
                try:
                    headers = {
                        "Content-Type": "application/json",
                        "Stripe-Signature": harness.sign(body),
                    }
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                    status = 0
                with lock:
                    log.append((time.monotonic(), status))
                    if 200 <= status < 300:
                        acked.append(json.loads(body)["id"])
                if 200 <= status < 500 and status != 0:
                    break  # acked, or refused for good (a 4xx is not retried)
                time.sleep(0.15)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return acked, log


def verify(env, workspace: int, acked_file: Path, cluster_of, deadline_s: float = 60):
    """Sweep (as its schedule would) until every acked event is processed or time is up."""
    deadline = time.monotonic() + deadline_s
    restarts = 0
    while True:
        chaos_cluster = cluster_of()
        if chaos_cluster.poll() is not None:
            restarts += (
                1  # it died on its own (e.g. the database went away): a supervisor would restart it
            )
            cluster_of(harness.start_qcluster(env))
        time.sleep(LEASE_SECONDS + 0.5)
        facts = harness.django_eval(
            env, VERIFY % {"sweep": True, "acked": str(acked_file), "workspace": workspace}
        )
        if facts["acked_unprocessed"] == 0 or time.monotonic() > deadline:
            facts["resumed"] = facts["acked_unprocessed"] == 0
            facts["cluster_died_alone"] = restarts
            return facts


def one_run(env: dict, rng: random.Random, events: int, tmp: Path) -> dict:
    slug = f"faults-{rng.getrandbits(40):x}"
    ids = harness.django_eval(env, RUN_SETUP % {"slug": slug, "secret": harness.SECRET})
    distinct = harness.make_events(events + 40, seed=rng.randrange(10**9))
    distinct, extra = distinct[:events], distinct[events:]
    bodies = distinct + rng.sample(distinct, max(events // 10, 1))
    rng.shuffle(bodies)
    port = harness.free_port()
    server = harness.start_gunicorn(env, port, workers=2)
    started = time.monotonic()
    path, acked, log = f"/hooks/stripe/{ids['uuid']}/", [], []
    poke = Poker(port, path, extra, acked, log)
    chaos = Chaos(env, server, rng, pg_after=rng.uniform(1.5, 3.0), poke=poke)
    try:
        chaos.start()
        post_until_acked(port, path, bodies, log=log, acked=acked)
        posted_at = time.monotonic()
        while chaos.outage is None and chaos.threads[1].is_alive():
            time.sleep(0.2)
        chaos.finish()
        acked_file = tmp / f"{slug}.json"
        acked_file.write_text(json.dumps(acked))

        def cluster_of(new=None):
            if new is not None:
                chaos.cluster = new
            return chaos.cluster

        facts = verify(env, ids["workspace"], acked_file, cluster_of)
        facts["post_s"] = round(posted_at - started, 1)
        facts["drain_s"] = round(time.monotonic() - posted_at, 1)
    finally:
        chaos.finish()
        harness.stop_group(chaos.cluster)
        harness.stop_group(server)
    begin, end = chaos.outage or (0, 0)
    during = [status for at, status in log if begin <= at <= end]
    return {
        "posted": len(set(distinct)) + 40 - len(extra),
        "acked": len(set(acked)),
        **facts,
        "exactly_once": facts["lost"] == 0
        and facts["acked_unprocessed"] == 0
        and facts["duplicate_signals"] == 0
        and facts["stored"] == facts["distinct"],
        "outage_s": round(end - begin, 2),
        "503_during_outage": during.count(503),
        "statuses_during_outage": {str(k): during.count(k) for k in sorted(set(during))},
        "http": {str(k): [s for _, s in log].count(k) for k in sorted({s for _, s in log})},
        # A request whose commit landed just before the shutdown may answer inside the window;
        # "lost" is what proves no 2xx went out without a commit.
        "2xx_during_outage": sum(1 for s in during if 200 <= s < 300),
        "5xx_other": sum(1 for _, s in log if s >= 500 and s != 503),
        **chaos.counts,
    }


def fault_env(database_url: str, broker: str) -> dict:
    extra = {
        "Q_WORKERS": "2",
        "Q_TIMEOUT": "20",
        "Q_RETRY": "30",
        "CUSTORY_EVENT_LEASE_SECONDS": str(LEASE_SECONDS),
        "CUSTORY_EVENT_BATCH_SIZE": "25",
    }
    if broker == "redis":
        extra["REDIS_URL"] = "redis://127.0.0.1:6379/11"
    return harness.env_for(database_url, **extra)


class FaultDatabase:
    """A fresh database on the private cluster, migrated once, dropped at the end."""

    def __enter__(self) -> str:
        import psycopg

        ensure_cluster()
        self.name = f"custory_faults_{random.getrandbits(40):x}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        url = f"postgres://postgres@127.0.0.1:{PG_PORT}/{self.name}"
        harness.manage(harness.env_for(url), "migrate", "-v0", timeout=600)
        return url

    def __exit__(self, *exc):
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def flush_redis_db() -> None:
    """Empty this project's own Redis database (11) so old jobs do not leak into a run."""
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/11").flushdb()


def summary(broker: str, results: list[dict]) -> str:
    ok = sum(1 for r in results if r["exactly_once"] and r["resumed"])
    total = {
        key: sum(r[key] for r in results)
        for key in (
            "posted",
            "acked",
            "stored",
            "lost",
            "duplicate_signals",
            "503_during_outage",
            "2xx_during_outage",
            "5xx_other",
            "web_kills",
            "qcluster_kills",
            "pg_restarts",
            "cluster_died_alone",
        )
    }
    return (
        f"broker={broker} runs={len(results)} exactly-once-and-resumed={ok}/{len(results)} "
        + " ".join(f"{key}={value}" for key, value in total.items())
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--broker", choices=["orm", "redis"], default="orm")
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(harness.machine(), flush=True)
    results = []
    with FaultDatabase() as url, tempfile.TemporaryDirectory() as tmp:
        env = fault_env(url, args.broker)
        for number in range(1, args.runs + 1):
            if args.broker == "redis":
                flush_redis_db()
            started = time.monotonic()
            result = one_run(env, rng, args.events, Path(tmp))
            result["seconds"] = round(time.monotonic() - started, 1)
            results.append(result)
            print(f"run {number}/{args.runs} {args.broker}: {json.dumps(result)}", flush=True)
    print(summary(args.broker, results), flush=True)
    return 0 if all(r["exactly_once"] and r["resumed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
