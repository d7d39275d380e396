"""Processing in one process: the drain's own code (`events_process_batch` in a loop) over a
backlog of either mix, on a temporary PostgreSQL database. Prints events/s, Python CPU and SQL
statements per event, and a digest of every row processing wrote, so two versions of the code
can be checked to give identical results.

    .venv/bin/python tests/perf/bench_apply.py
    BENCH_EVENTS=3000 BENCH_MIXES=demo,new BENCH_PROFILE=1 BENCH_SQL=1 BENCH_NOW=1796297699 \
        .venv/bin/python tests/perf/bench_apply.py

BENCH_PROFILE_OUT=path also writes the profile's stats there (pstats), to look at callers.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness  # noqa: E402
from tests.perf.bench_processing import LOAD_CODE, LOAD_NEW_CODE  # noqa: E402

# The new-customer mix dates its events from the clock: fixed here so that two runs (two
# versions of the code) get identical events and their digests can be compared.
FIXED_CLOCK = """
import random, secrets, time
_now, _ids = float(%(now)d), random.Random(5)
time.time = lambda: _now
secrets.token_hex = lambda n=32: f"{_ids.getrandbits(8 * n):0{2 * n}x}"
"""

MEASURE_CODE = """
import cProfile, hashlib, io, json, pstats, time
from django.db import connection
from billing.pipeline.jobs import events_process_batch
import collections, re
statements = 0
kinds = collections.Counter()
spent = collections.Counter()
def count(execute, sql, params, many, context):
    global statements
    statements += 1
    if not %(sql)d:
        return execute(sql, params, many, context)
    kind = re.sub(r"\\([^()]*\\)", "(..)", sql)[:150]
    kinds[kind] += 1
    began = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        spent[kind] += time.perf_counter() - began
profile = cProfile.Profile() if %(profile)d else None
with connection.execute_wrapper(count):
    started, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    done = 0
    while claimed := events_process_batch():
        done += claimed
    if profile:
        profile.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
for sql, sql_seconds in spent.most_common(40):
    print(f"{kinds[sql]:>7} {sql_seconds:>7.2f} s {sql}")
if profile:
    if %(profile_out)r:
        profile.dump_stats(%(profile_out)r)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(45)
    print(out.getvalue()[-9000:])
tables = {
    "signals": "SELECT e.stripe_id, s.kind, s.amount, s.currency, s.mrr_delta, s.object_id, "
    "s.details::text, s.fact_key, c.stripe_id, s.subscription_stripe_id "
    "FROM billing_revenuesignal s JOIN billing_stripeevent e ON e.id = s.event_id "
    "LEFT JOIN billing_customer c ON c.id = s.customer_id",
    "placements": "SELECT e.stripe_id, s.kind, p.journey_id, p.step_id, p.rule_id FROM "
    "journeys_signalplacement p JOIN billing_revenuesignal s ON s.id = p.signal_id "
    "JOIN billing_stripeevent e ON e.id = s.event_id",
    "rollups": "SELECT journey_id, step_id, day, kind, currency, count, amount, mrr_delta "
    "FROM journeys_stepdailyrollup",
    "customers": "SELECT stripe_id, email, name, currency, status, mrr, deleted, state_event_id, "
    "first_seen_at FROM billing_customer",
    "subscriptions": "SELECT s.stripe_id, c.stripe_id, s.status, s.mrr, s.currency, s.plan_name, "
    "s.quantity, s.state_event_id FROM billing_subscription s LEFT JOIN billing_customer c "
    "ON c.id = s.customer_id",
    "mrr_points": "SELECT c.stripe_id, p.subscription_stripe_id, p.event_stripe_id, p.status, "
    "p.mrr, p.paid FROM billing_mrrpoint p JOIN billing_customer c ON c.id = p.customer_id",
    "movements": "SELECT c.stripe_id, m.at, m.kind, m.currency, m.amount, m.mrr_after FROM "
    "billing_mrrmovement m JOIN billing_customer c ON c.id = m.customer_id",
    "failed_invoices": "SELECT f.invoice_id, c.stripe_id, f.amount, f.attempts, f.amount_paid, "
    "f.first_failed_at, f.paid_at, f.lost_at, f.lost_reason FROM billing_failedinvoice f "
    "LEFT JOIN billing_customer c ON c.id = f.customer_id",
    "mrr_rollups": "SELECT connection_id, livemode, day, kind, currency, count, amount "
    "FROM billing_mrrdailyrollup",
    "recovery_rollups": "SELECT connection_id, livemode, day, currency, invoices, attempts, "
    "amount, recovered, amount_recovered, in_dunning, amount_in_dunning, lost, amount_lost "
    "FROM billing_recoverydailyrollup",
    "payment_failures": "SELECT charge_id, payment_intent_id, decline_code "
    "FROM billing_paymentfailure",
    "tasks": "SELECT t.title, t.status, c.stripe_id, t.rule_id, t.step_id "
    "FROM tasks_followuptask t LEFT JOIN billing_customer c ON c.id = t.customer_id",
    "task_signals": "SELECT e.stripe_id, s.kind, ts.rule_id, ts.reason FROM tasks_tasksignal ts "
    "JOIN billing_revenuesignal s ON s.id = ts.signal_id "
    "JOIN billing_stripeevent e ON e.id = s.event_id",
    "figures": "SELECT c.stripe_id, f.mrr, f.paid, f.failed_outstanding, f.refunded, "
    "f.disputed, f.at_risk FROM billing_customerfigures f "
    "JOIN billing_customer c ON c.id = f.customer_id",
    "events": "SELECT status, count(*) FROM billing_stripeevent GROUP BY status",
}
digest = {}
with connection.cursor() as cursor:
    for name, sql in tables.items():
        cursor.execute(sql)
        rows = sorted(repr(row) for row in cursor.fetchall())
        digest[name] = [len(rows), hashlib.sha256("\\n".join(rows).encode()).hexdigest()[:12]]
print(json.dumps({"done": done, "seconds": seconds, "cpu": cpu, "statements": statements,
                  "digest": digest}))
"""


def run(mix: str, count: int, profile: bool, sql: bool = False, now: int = 0) -> dict:
    with harness.temp_database("postgres") as url:
        env = harness.env_for(
            url,
            STRIPE_EVENTS_LIB=str(Path(__file__).resolve().parent / "stripe_events_lib"),
        )
        ids = harness.prepare(env)
        bench = str(harness.ROOT.parent / "shared" / "bench")
        code = LOAD_NEW_CODE if mix == "new" else LOAD_CODE
        if now:
            code = FIXED_CLOCK % {"now": now} + code
        values = {"connection": ids["connection"], "count": count, "bench": bench}
        harness.django_eval(env, code % values, timeout=900)
        measure = MEASURE_CODE % {
            "profile": int(profile),
            "sql": int(sql),
            "profile_out": os.environ.get("BENCH_PROFILE_OUT", ""),
        }
        out = harness.manage(env, "shell", "-c", measure, timeout=3600)
        if profile or sql:
            print(out.rsplit("\n{", 1)[0])
        return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    count = int(os.environ.get("BENCH_EVENTS", "3000"))
    mixes = os.environ.get("BENCH_MIXES", "demo,new").split(",")
    profile = os.environ.get("BENCH_PROFILE") == "1"
    sql = os.environ.get("BENCH_SQL") == "1"
    now = int(os.environ.get("BENCH_NOW", "0"))
    print(harness.machine())
    for mix in mixes:
        result = run(mix.strip(), count, profile, sql, now)
        done = result["done"] or 1
        print(
            f"  {mix:<5} mix: {result['done']} events in {result['seconds']:.1f} s = "
            f"{result['done'] / result['seconds']:.0f} events/s, "
            f"{1000 * result['cpu'] / done:.2f} ms CPU/event, "
            f"{result['statements'] / done:.1f} statements/event"
        )
        print(f"  {mix:<5} digest: {result['digest']}")
    print(harness.machine())


if __name__ == "__main__":
    main()
