"""The real `manage.py stripe_import`, SIGKILLed mid-import and run again: it continues from
its saved cursors and ends where an uninterrupted import of the same account ends.

The commands run in subprocesses on a database of their own (a temporary PostgreSQL database
when DATABASE_URL is PostgreSQL, else a temporary SQLite file); the fake Stripe API runs here.
"""

import os
import re
import signal
import subprocess

import pytest

from tests.billing.history_support import generated_history, serve
from tests.perf import harness
from tests.stripe_fake import RK_TEST, RK_TEST_2, FakeStripeServer

# Requests per second and objects per page: small pages read slowly, so that the kill lands
# in the middle of listings however fast applying is.
RATE = 12
PAGE_SIZE = 5
PROGRESS = re.compile(r"\] +(\d+)% ")

SETUP_CODE = """
import json
from django.conf import settings
from django.utils.module_loading import import_string
from billing.models import StripeConnection
from custory import crypto
from custory.models import Workspace
for slug, key in %(keys)r.items():
    ws = Workspace.objects.create(slug=slug, name=slug)
    for path in settings.WORKSPACE_DEFAULTS:
        import_string(path)(workspace=ws)
    StripeConnection.objects.create(
        workspace=ws, label=slug, account_id="acct_" + slug,
        api_key_encrypted=crypto.encrypt(key), api_key_hint="rk_test_…")
print(json.dumps({"ok": True}))
"""

IMPORT_CODE = """
import json
from billing.models import HistoryImport
print(json.dumps(list(HistoryImport.objects.filter(workspace__slug=%(slug)r).values(
    "pk", "status", "cursors", "counts", "owner"))))
"""

# What the board, the customer pages and the revenue figures are made of, by Stripe's ids.
FIGURES_CODE = """
import json
from billing.models import Customer, RevenueSignal, Subscription
from billing.revenue_models import MrrMovement
from journeys.models import SignalPlacement
from tasks.models import FollowUpTask
def rows(values):
    return sorted((list(row) for row in values), key=repr)
def figures(ws):
    return {
        "signals": rows(RevenueSignal.objects.filter(workspace__slug=ws).values_list(
            "fact_key", "kind", "occurred_at", "amount", "currency", "mrr_delta",
            "customer__stripe_id")),
        "placements": rows(SignalPlacement.objects.filter(signal__workspace__slug=ws).values_list(
            "signal__fact_key", "journey__name", "step__name")),
        "customers": rows(Customer.objects.filter(workspace__slug=ws).values_list(
            "stripe_id", "email", "status", "mrr", "currency")),
        "subscriptions": rows(Subscription.objects.filter(workspace__slug=ws).values_list(
            "stripe_id", "status", "mrr", "price_id", "quantity", "cancel_at_period_end")),
        "mrr_movements": rows(MrrMovement.objects.filter(workspace__slug=ws).values_list(
            "customer__stripe_id", "at", "kind", "currency", "amount", "mrr_after")),
        "tasks": rows(FollowUpTask.objects.filter(workspace__slug=ws).values_list(
            "title", "signal__fact_key")),
    }
print(json.dumps({ws: figures(ws) for ws in ("whole", "killed")}, default=str))
"""


def _command(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [harness.PYTHON, "manage.py", *args],
        cwd=harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _import_killed_midway(env: dict, slug: str) -> int:
    """Start `stripe_import`, SIGKILL it once its progress bar passes 15%; the percentage."""
    process = subprocess.Popen(
        [harness.PYTHON, "manage.py", "stripe_import", slug],
        cwd=harness.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        for line in process.stdout:
            match = PROGRESS.search(line)
            if match and int(match.group(1)) >= 15:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                return int(match.group(1))
        raise AssertionError(f"the import ended before it could be killed ({process.wait()})")
    finally:
        harness.kill_group(process)
        process.stdout.close()


def _first_after_per_listing(requests) -> dict:
    """The `starting_after` of each listing's (path, time slice, event types) first request."""
    first = {}
    for request in requests:
        params = dict(request.params)
        types = tuple(value for name, value in request.params if name.startswith("types"))
        unit = (request.path, params.get("created[gte]"), params.get("created[lt]"), types)
        first.setdefault(unit, params.get("starting_after"))
    return first


def _listed(requests) -> list:
    return [r for r in requests if r.path not in ("/v1/account", "/v1/prices")]


@pytest.mark.slow
def test_stripe_import_killed_and_run_again_continues_and_ends_as_an_uninterrupted_one(tmp_path):
    events, objects = generated_history()
    served = {path.removeprefix("/v1/").replace("/", "_"): len(o) for path, o in objects.items()}
    with FakeStripeServer() as fake, harness.temp_database(tmp_dir=tmp_path) as url:
        serve(fake, objects, events)
        fake.add_key(RK_TEST)
        fake.keys[RK_TEST_2] = fake.keys[RK_TEST]  # the same account, through another key
        env = harness.env_for(
            url,
            STRIPE_API_BASE=fake.url,
            CUSTORY_IMPORT_RATE=str(RATE),
            CUSTORY_IMPORT_PAGE_SIZE=str(PAGE_SIZE),
            CUSTORY_IMPORT_LEASE_SECONDS="600",  # the dead runner is known by its pid
        )
        harness.manage(env, "migrate", "-v0", timeout=300)
        harness.django_eval(env, SETUP_CODE % {"keys": {"whole": RK_TEST_2, "killed": RK_TEST}})

        whole_run = _command(env, "stripe_import", "whole")
        assert whole_run.returncode == 0, whole_run.stderr[-2000:]
        uninterrupted = _listed(fake.requests)

        at = _import_killed_midway(env, "killed")
        (killed,) = harness.django_eval(env, IMPORT_CODE % {"slug": "killed"})
        assert killed["status"] == "running" and 15 <= at < 100
        saved = {
            key: cursor["after"]
            for key, cursor in killed["cursors"].items()
            if key != "_meta" and cursor.get("after") and not cursor.get("done")
        }
        assert saved, killed["cursors"]

        before = len(fake.requests)
        resumed_run = _command(env, "stripe_import", "killed")
        assert resumed_run.returncode == 0, resumed_run.stderr[-2000:]
        assert "Import complete." in resumed_run.stdout
        second = _listed(fake.requests[before:])
        (resumed,) = harness.django_eval(env, IMPORT_CODE % {"slug": "killed"})

        # It continued the same import: its saved cursors were where listings went on from,
        # fewer pages were read than a whole import reads, and no page was counted twice.
        assert resumed["pk"] == killed["pk"] and resumed["status"] == "done"
        assert set(saved.values()) <= set(_first_after_per_listing(second).values())
        assert len(second) < len(uninterrupted)
        read = {name: n for name, n in resumed["counts"].items() if name != "events"}
        assert read == {name: n for name, n in served.items() if name != "prices"}

        figures = harness.django_eval(env, FIGURES_CODE)
        assert figures["killed"]["signals"], "the import made no signals"
        for name, whole in figures["whole"].items():
            assert figures["killed"][name] == whole, name

        reconciled = {slug: _command(env, "stripe_reconcile", slug) for slug in ("whole", "killed")}
        assert reconciled["killed"].returncode == reconciled["whole"].returncode == 0
        assert reconciled["killed"].stdout == reconciled["whole"].stdout
        assert "In sync with Stripe." in reconciled["killed"].stdout
