"""Run the real thing in subprocesses: a throwaway database, gunicorn, `manage.py qcluster`,
signed posts with concurrency. Used by the benchmarks and by the qcluster fault test.

Everything talks to its own database (a temporary PostgreSQL database on the server named by
DATABASE_URL, or a temporary SQLite file), never to the test database or the development one.
"""

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CORPUS = Path(os.environ.get("STRIPE_EVENTS_DIR", ROOT.parent / "shared" / "stripe-events"))
SECRET = "whsec_benchmarkandfaulttestsecret0123456789"
ENCRYPTION_KEY = "Qt7EAvo1N1EDwXzWvS8MwmyGXNtHY6PTNj3J0Zyv6Ww="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def temp_database(kind: str | None = None, tmp_dir: Path | None = None):
    """Yield a DATABASE_URL for a fresh database, dropped afterwards.

    kind "postgres" uses the server of DATABASE_URL (or 127.0.0.1:5432); "sqlite" a file.
    By default the kind follows DATABASE_URL.
    """
    base = os.environ.get("DATABASE_URL", "")
    kind = kind or ("postgres" if base.startswith("postgres") else "sqlite")
    if kind == "sqlite":
        directory = tmp_dir or Path(tempfile.gettempdir())
        path = directory / f"custory-run-{uuid.uuid4().hex[:8]}.sqlite3"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    server = base if base.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(server)
    admin_url = parts._replace(path="/postgres").geturl()
    name = f"custory_run_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def env_for(database_url: str, **extra: str) -> dict[str, str]:
    """Production settings (custory.settings) with what a local run needs."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "custory.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "custory-harness-secret-key-not-for-production",
        "CUSTORY_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def manage(env: dict, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def django_eval(env: dict, code: str, timeout: float = 120):
    """Run code in a Django shell of that database; it must print one JSON document last."""
    out = manage(env, "shell", "-c", code, timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


SETUP_CODE = """
import json
from custory import crypto
from billing.models import StripeConnection, WebhookSecret
from custory.models import Workspace
ws, created = Workspace.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
if created:
    # What a workspace made by the product has: the default journey and task rules.
    from django.conf import settings
    from django.utils.module_loading import import_string
    for path in settings.WORKSPACE_DEFAULTS:
        import_string(path)(workspace=ws)
c = StripeConnection.objects.create(workspace=ws, label="Bench", account_id="acct_bench")
WebhookSecret.objects.create(connection=c, secret_encrypted=crypto.encrypt(%r), hint="bench")
print(json.dumps({"uuid": str(c.uuid), "workspace": ws.pk, "connection": c.pk}))
"""


def prepare(env: dict) -> dict:
    """Migrate the database and create a workspace with a connection; return its ids."""
    manage(env, "migrate", "-v0", timeout=300)
    return django_eval(env, SETUP_CODE % SECRET)


def corpus_templates() -> list[dict]:
    """The corpus events of types we process, to be cloned with fresh ids."""
    from billing.event_types import PROCESSED_EVENT_TYPES

    templates = []
    for path in sorted(CORPUS.glob("*.json")):
        payload = json.loads(path.read_bytes())
        if payload.get("type") in PROCESSED_EVENT_TYPES:
            templates.append(payload)
    if not templates:
        raise RuntimeError(f"No processed-type events found in {CORPUS}")
    return templates


def make_events(count: int, *, seed: int = 7, target_bytes: int = 3000) -> list[bytes]:
    """`count` distinct event bodies cloned from the corpus (fresh ids, created now), ~3 KB."""
    rng = random.Random(seed)
    templates = corpus_templates()
    now = int(time.time())
    bodies = []
    for _ in range(count):
        payload = dict(rng.choice(templates))
        payload["id"] = f"evt_bench{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
        payload["created"] = now
        # The bench connection is in test mode, and events of the other mode are refused.
        payload["livemode"] = False
        body = json.dumps(payload, separators=(",", ":"))
        if len(body) < target_bytes:
            payload["request"] = {"id": None, "idempotency_key": "x" * (target_bytes - len(body))}
            body = json.dumps(payload, separators=(",", ":"))
        bodies.append(body.encode())
    return bodies


def sign(body: bytes, secret: str = SECRET) -> str:
    import hashlib
    import hmac

    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass
class PostResult:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0


def post_all(
    port: int, path: str, bodies: list[bytes], *, concurrency: int = 8, retries: int = 0
) -> PostResult:
    """POST every body (signed at send time) with `concurrency` keep-alive connections."""
    result = PostResult()
    lock = threading.Lock()
    queue = list(enumerate(bodies))
    queue.reverse()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            for attempt in range(retries + 1):
                started = time.perf_counter()
                try:
                    conn.request(
                        "POST",
                        path,
                        body=body,
                        headers={
                            "Content-Type": "application/json",
                            "Stripe-Signature": sign(body),
                        },
                    )
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    status = 0
                elapsed = time.perf_counter() - started
                with lock:
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    if status == 0:
                        result.errors += 1
                    else:
                        result.latencies.append(elapsed)
                    if status == 200:
                        result.acked.append(json.loads(body)["id"])
                if status == 200 or attempt == retries:
                    break
                time.sleep(0.1)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def start_gunicorn(
    env: dict, port: int, workers: int | None = 2, threads: int | None = 1
) -> subprocess.Popen:
    """gunicorn with gunicorn.conf.py; workers/threads None keep that file's choice."""
    sizing = []
    if workers is not None:
        sizing += ["--workers", str(workers)]
    if threads is not None:
        sizing += ["--threads", str(threads)]
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "custory.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            *sizing,
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    wait_for_port(port, process)
    return process


def start_qcluster(env: dict, log=None) -> subprocess.Popen:
    """`manage.py qcluster` in its own process group (it forks workers: kill the group)."""
    return subprocess.Popen(
        [PYTHON, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def stop_group(process: subprocess.Popen) -> None:
    """Ask politely (SIGTERM), then SIGKILL the group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    kill_group(process)


STATUS_CODE = """
import json
from django.db.models import Count
from billing.models import StripeEvent
rows = dict(StripeEvent.objects.values_list("status").annotate(n=Count("pk")))
print(json.dumps(rows))
"""


def event_statuses(env: dict) -> dict[str, int]:
    return django_eval(env, STATUS_CODE)


def machine() -> str:
    import platform

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load} (the machine is shared)"
    )
