"""History import benchmark: `manage.py stripe_import` reads a generated account of about
BENCH_OBJECTS Stripe objects (customers, subscriptions, invoices, charges, refunds, disputes,
checkout sessions, prices) from the local fake Stripe API into a temporary PostgreSQL database,
rate budget raised, and prints objects/s and signals/s (normalization and placement included).

    .venv/bin/python tests/perf/import_bench.py
    BENCH_OBJECTS=20000 DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python ...

BENCH_PROFILE=1 runs the import under cProfile and prints where its main thread's time went
(applying, storing pages, rebuilding events, waiting for the listing threads); the profiler
slows Python down, so shares count, not the rate of that run. BENCH_PROFILE_OUT=FILE keeps the
profile there, for pstats.
"""

import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from tests.billing.history_support import generated_history  # noqa: E402
from tests.perf import harness  # noqa: E402
from tests.stripe_fake import RK_TEST, FakeStripeServer  # noqa: E402

KEY_CODE = """
import json
from custory import crypto
from billing.models import StripeConnection
StripeConnection.objects.filter(pk=%(connection)d).update(
    api_key_encrypted=crypto.encrypt(%(key)r), api_key_hint="rk_test_…")
print(json.dumps({"ok": True}))
"""

RESULT_CODE = """
import json
from billing.models import HistoryImport, RevenueSignal, StripeEvent
i = HistoryImport.objects.get()
print(json.dumps({"status": i.status, "counts": i.counts, "signals": RevenueSignal.objects.count(),
                  "events": StripeEvent.objects.count(), "errors": i.errors}))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Where the import's main thread spends its time: (label, module path suffix, function).
PARTS = (
    ("apply (events_apply_batch)", "pipeline/apply.py", "events_apply_batch"),
    ("claim, apply, count (events_apply)", "history/pages.py", "events_apply"),
    ("store a page (page_store)", "history/pages.py", "page_store"),
    ("rebuild events from objects", "history/pages.py", "rebuilt_payloads"),
    ("wait for listed pages", "queue.py", "get"),
    ("progress line", "commands/stripe_import.py", "_progress"),
)


def _shares(profile: str) -> list[str]:
    stats = pstats.Stats(profile).stats
    cumulative = {}
    for (path, _, name), (_, _, _, seconds, _) in stats.items():
        for label, suffix, function in (*PARTS, ("total", "history/runner.py", "import_run")):
            if name == function and path.endswith(suffix):
                cumulative[label] = cumulative.get(label, 0.0) + seconds
    total = cumulative.pop("total", 0.0) or 1.0
    return [f"  {label}: {cumulative.get(label, 0.0) / total:.0%}" for label, *_ in PARTS]


def account(target: int) -> dict[str, list[dict]]:
    """A generated account of about `target` objects (24 months of customer lives)."""
    # A small account of the same seed says how many objects a customer's life leaves.
    _, sample = generated_history(seed=5, customers=200, months=24)
    per_customer = sum(len(listed) for listed in sample.values()) / 200
    customers = max(round(target / per_customer), 5)
    _, objects = generated_history(seed=5, customers=customers, months=24)
    return objects


def main() -> None:
    target = int(os.environ.get("BENCH_OBJECTS", "100000"))
    started = time.perf_counter()
    objects = account(target)
    total = sum(len(v) for v in objects.values())
    print(f"generated {total:,} objects in {time.perf_counter() - started:.0f} s")
    with FakeStripeServer() as fake, harness.temp_database("postgres") as url:
        fake.add_key(RK_TEST)
        for path, listed in objects.items():
            for obj in listed:
                fake.add_object(path, obj)
        env = harness.env_for(
            url, STRIPE_API_BASE=fake.url, CUSTORY_IMPORT_RATE="100000", LOG_LEVEL="ERROR"
        )
        ids = harness.prepare(env)
        harness.django_eval(env, KEY_CODE % {"connection": ids["connection"], "key": RK_TEST})
        print(harness.machine())
        profile = ""
        if os.environ.get("BENCH_PROFILE"):
            profile = str(Path(tempfile.mkdtemp()) / "import.prof")
        profiler = ["-m", "cProfile", "-o", profile] if profile else []
        started, cpu = time.perf_counter(), _children_cpu()
        subprocess.run(
            [harness.PYTHON, *profiler, "manage.py", "stripe_import", "bench"],
            cwd=harness.ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=3600,
        )
        seconds = time.perf_counter() - started
        cpu = _children_cpu() - cpu
        result = harness.django_eval(env, RESULT_CODE)
    read = sum(result["counts"].values())
    print(f"import {result['status']}: {read:,} objects read in {seconds:.1f} s")
    print(f"objects/s: {read / seconds:,.0f}")
    print(f"signals/s: {result['signals'] / seconds:,.0f} ({result['signals']:,} signals)")
    print(f"events rebuilt and applied: {result['events']:,}; errors: {result['errors']}")
    print(f"per type: {result['counts']}")
    # The machine is shared: CPU seconds of the import process alone are a steadier measure.
    print(f"import process CPU: {cpu:.1f} s, {read / cpu:,.0f} objects per CPU second")
    if profile:
        print("main thread's time (under cProfile):", *_shares(profile), sep="\n")
        if os.environ.get("BENCH_PROFILE_OUT"):
            shutil.copy(profile, os.environ["BENCH_PROFILE_OUT"])
        shutil.rmtree(Path(profile).parent)


if __name__ == "__main__":
    main()
