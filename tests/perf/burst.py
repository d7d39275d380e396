"""Burst benchmark: a 50,000-event billing-run burst posted to the webhook (gunicorn) while a
signed-in admin keeps reading the journey board; a real `manage.py qcluster` processes the
backlog. Prints the board's p50/p95 during the burst, the ack rate and the drain time.

    .venv/bin/python tests/perf/burst.py
    BENCH_EVENTS=50000 BENCH_BROKER=orm BENCH_WEB_WORKERS=2 .venv/bin/python tests/perf/burst.py

Runs on its own temporary PostgreSQL database (DATABASE_URL's server, else 127.0.0.1:5432).
"""

import http.client
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "50000"))
BROKER = os.environ.get("BENCH_BROKER", "orm")
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))

READER_CODE = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from custory.models import Membership, User, Workspace
from journeys.services import journey_install_default
ws = Workspace.objects.get(slug="bench")
journey_install_default(workspace=ws)
user = User.objects.create_user(email="burst@example.com", password="burst-reader-pass")
Membership.objects.create(workspace=ws, user=user, role="admin")
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(json.dumps({"session": session.session_key}))
"""

BODIES_CODE = """
import json
from billing.pipeline.demo import demo_events
payloads = demo_events(seed=23, customers=max(1, %(count)d // 10), months=6)[:%(count)d]
with open(%(path)r, "w") as out:
    for payload in payloads:
        payload["livemode"] = False
        out.write(json.dumps(payload, separators=(",", ":")) + "\\n")
print(json.dumps({"events": len(payloads)}))
"""


class BoardReader(threading.Thread):
    """GET the board every 0.25 s as the signed-in admin; keep each answer's latency."""

    def __init__(self, port: int, session: str):
        super().__init__(daemon=True)
        self.port, self.session = port, session
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": f"sessionid={self.session}"}
        while not self.stop.wait(0.25):
            started = time.perf_counter()
            try:
                conn.request("GET", "/w/bench/", headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                status = 0
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.latencies.append(time.perf_counter() - started)


def backlog(env) -> int:
    statuses = harness.event_statuses(env)
    return statuses.get("pending", 0) + statuses.get("processing", 0)


def main() -> None:
    print(harness.machine(), flush=True)
    extra = (
        {"Q_WORKERS": "2", "REDIS_URL": "redis://127.0.0.1:6379/11"} if BROKER == "redis" else {}
    )
    with harness.temp_database("postgres") as url, tempfile.TemporaryDirectory() as tmp:
        env = harness.env_for(url, Q_WORKERS="2", **extra)
        ids = harness.prepare(env)
        session = harness.django_eval(env, READER_CODE)["session"]
        path = Path(tmp) / "bodies.jsonl"
        harness.django_eval(env, BODIES_CODE % {"count": EVENTS, "path": str(path)}, timeout=900)
        bodies = path.read_bytes().splitlines()
        # Production settings serve hashed static files: the board needs their manifest.
        harness.manage(env, "collectstatic", "--noinput", "-v0", timeout=600)
        port = harness.free_port()
        server = harness.start_gunicorn(env, port, workers=WEB_WORKERS, threads=4)
        cluster = harness.start_qcluster(env)
        reader = BoardReader(port, session)
        try:
            reader.start()
            started = time.monotonic()
            result = harness.post_all(port, f"/hooks/stripe/{ids['uuid']}/", bodies, concurrency=8)
            posted = time.monotonic()
            during_burst = list(reader.latencies)
            while backlog(env) and time.monotonic() - posted < 3600:
                time.sleep(2)
            drained = time.monotonic()
        finally:
            reader.stop.set()
            reader.join(timeout=60)
            harness.stop_group(cluster)
            harness.stop_group(server)
    report(result, started, posted, drained, during_burst, reader)


def report(result, started, posted, drained, during_burst, reader) -> None:
    p50, p95 = harness.percentile(during_burst, 0.5), harness.percentile(during_burst, 0.95)
    all_p95 = harness.percentile(reader.latencies, 0.95)
    print(
        f"burst: {len(result.acked)} events acked of {sum(result.statuses.values())} posts "
        f"in {posted - started:.1f} s ({len(result.acked) / (posted - started):.0f}/s), "
        f"HTTP statuses {result.statuses}, broker {BROKER}"
    )
    print(
        f"board during the burst: {len(during_burst)} reads, p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms (target < 1000 ms); until drained p95 {all_p95 * 1000:.0f} ms; "
        f"statuses {reader.statuses}"
    )
    print(
        f"drain: backlog empty {drained - posted:.1f} s after the last ack "
        f"({drained - started:.1f} s after the first post)"
    )
    print(f"after: {harness.machine()}")


if __name__ == "__main__":
    main()
