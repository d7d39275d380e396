# ruff: noqa: E501
"""Dashboard benchmark on PostgreSQL: one workspace with a million signals, timed page by page
(with its failed invoices and MRR movements: the board's recovery and MRR figures).

Run:  .venv/bin/python tests/perf/bench_dashboard.py
Env:  BENCH_SIGNALS (1000000), BENCH_CUSTOMERS (50000), BENCH_REPEAT (25 timed requests per page),
      BENCH_PG (postgres://postgres@127.0.0.1:5432), BENCH_DB (custory_dashboard_bench),
      BENCH_KEEP=1 reuses an already generated database, BENCH_SHUFFLE=1 scatters signal times
      over the table instead of following insertion order, BENCH_PAGES=customers,board times
      only the pages whose name contains one of these words.

It creates its own database, generates the data in SQL (generate_series: events, customers,
subscriptions, signals, placements by the default journey's rules, and the rollups aggregated from
them), then times server-side pages with Django's test Client and prints p50/p95 per page.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SIGNALS = int(os.environ.get("BENCH_SIGNALS", "1000000"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "50000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "25"))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "custory_dashboard_bench")
KEEP = os.environ.get("BENCH_KEEP") == "1"
PAGES = [word for word in os.environ.get("BENCH_PAGES", "").split(",") if word]

# Signals arrive in time order, so ids follow time (with a few hours of jitter), as webhooks
# deliver them; BENCH_SHUFFLE=1 scatters times across the table instead (worst case for the heap).
SHUFFLE = os.environ.get("BENCH_SHUFFLE") == "1"
AGE_DAYS = (
    "(random() * 400)"
    if SHUFFLE
    else f"(400.0 * (1 - (e.id - {{emin}})::float / {SIGNALS}) + random() * 0.25)"
)
COLD: dict[str, float] = {}
# Per timed request, the CPU time of this process (Django's side: the view, the ORM, templates):
# unlike wall time, it barely moves with the machine's load.
CPU: list[float] = []
TARGETS_MS = {
    "reference": 0,
    "board": 150,
    "step": 150,
    "signal": 50,
    "customer": 50,
    "fragment": 100,
}

# (kind, weight): roughly a subscription business's mix of events.
KIND_WEIGHTS = [
    ("payment_succeeded", 45),
    ("payment_failed", 12),
    ("payment_recovered", 6),
    ("checkout_completed", 8),
    ("checkout_abandoned", 6),
    ("subscription_started", 5),
    ("refund", 4),
    ("plan_upgraded", 3),
    ("plan_downgraded", 2),
    ("trial_ending", 2),
    ("trial_converted", 2),
    ("cancellation_scheduled", 2),
    ("subscription_canceled", 2.5),
    ("cancellation_withdrawn", 0.5),
    ("dispute_opened", 0.6),
    ("dispute_closed", 0.4),
]
AMOUNT_KINDS = [
    "payment_succeeded",
    "payment_failed",
    "payment_recovered",
    "checkout_completed",
    "checkout_abandoned",
    "refund",
    "dispute_opened",
    "dispute_closed",
]


def create_database():
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone()
        if exists and KEEP:
            return False
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        conn.execute(f'CREATE DATABASE "{DB}"')
    return True


def setup_django():
    os.environ["DATABASE_URL"] = f"{PG}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def kind_case() -> str:
    total = sum(w for _, w in KIND_WEIGHTS)
    edge, parts = 0.0, []
    for kind, weight in KIND_WEIGHTS:
        edge += weight / total
        parts.append(f"WHEN r_kind < {edge:.6f} THEN '{kind}'")
    return "CASE " + " ".join(parts) + " ELSE 'payment_succeeded' END"


def generate():
    from django.core.management import call_command
    from django.db import connection

    from billing.customer_figures import customer_figures_rebuild
    from billing.models import StripeConnection
    from billing.revenue_rollups import revenue_rollups_rebuild
    from custory.models import Membership, Role, User, Workspace
    from journeys.models import MappingRule
    from journeys.services import journey_install_default

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    user = User.objects.create_user(email="bench@example.com", password="x")  # noqa: S106
    Membership.objects.create(workspace=workspace, user=user, role=Role.MEMBER)
    if not workspace.journeys.exists():
        journey_install_default(workspace=workspace)
    journey = workspace.journeys.get(is_default=True)
    live = StripeConnection.objects.create(
        workspace=workspace, label="Live", account_id="acct_bench", livemode=True
    )
    rules = {}
    for rule in MappingRule.objects.filter(journey=journey).order_by("priority", "id"):
        for kind in rule.kinds:
            rules.setdefault(kind, rule)
    ws, cn, jn = workspace.pk, live.pk, journey.pk
    step_case = (
        "CASE s.kind " + " ".join(f"WHEN '{k}' THEN {r.step_id}" for k, r in rules.items()) + " END"
    )
    rule_case = (
        "CASE s.kind " + " ".join(f"WHEN '{k}' THEN {r.pk}" for k, r in rules.items()) + " END"
    )
    amount_kinds = ", ".join(f"'{k}'" for k in AMOUNT_KINDS)
    steps = [
        (
            "customers",
            f"""
            INSERT INTO billing_customer (workspace_id, connection_id, uuid, stripe_id, email,
              name, livemode, status, mrr, currency, metadata, deleted, first_seen_at, state_as_of,
              state_event_id)
            SELECT {ws}, {cn}, gen_random_uuid(), 'cus_bench' || g, 'customer' || g || '@example.org',
              'Customer ' || g, true, 'active',
              CASE WHEN g % 20 = 0 THEN 500000 + (g % 4) * 100000 ELSE 1900 + (g % 5) * 2000 END,
              CASE WHEN g % 20 = 0 THEN 'jpy' WHEN g % 4 = 0 THEN 'usd' ELSE 'eur' END,
              '{{}}'::jsonb, false, now() - (g % 700) * interval '1 day', now(), ''
            FROM generate_series(1, {CUSTOMERS}) g
            """,
        ),
        (
            "subscriptions",
            f"""
            INSERT INTO billing_subscription (workspace_id, customer_id, stripe_id, status,
              price_id, product_id, plan_name, quantity, mrr, currency, items,
              cancel_at_period_end, livemode, state_as_of, state_event_id)
            SELECT {ws}, c.id, 'sub_bench' || c.id,
              CASE WHEN c.id % 20 = 1 THEN 'past_due' WHEN c.id % 14 = 0 THEN 'canceled'
                   ELSE 'active' END,
              'price_bench', 'prod_bench', (ARRAY['Starter','Pro','Business'])[1 + c.id % 3],
              1, c.mrr, c.currency, '[]'::jsonb, c.id % 25 = 0, true, now(), ''
            FROM billing_customer c WHERE c.workspace_id = {ws}
            """,
        ),
        (
            "events",
            f"""
            INSERT INTO billing_stripeevent (workspace_id, connection_id, stripe_id, type,
              api_version, created, livemode, payload, source, status, attempts, last_error,
              received_at, processed_at)
            SELECT {ws}, {cn}, 'evt_bench' || g, 'bench', '2024-06-20', now(), true,
              '{{}}'::jsonb, 'webhook', 'processed', 1, '', now(), now()
            FROM generate_series(1, {SIGNALS}) g
            """,
        ),
        (
            "signals",
            f"""
            INSERT INTO billing_revenuesignal (workspace_id, uuid, event_id, connection_id,
              customer_id, subscription_stripe_id, kind, occurred_at, livemode, amount, currency,
              mrr_delta, object_id, details, created_at, fact_key)
            SELECT {ws}, gen_random_uuid(), e.id, {cn}, c.id, 'sub_bench' || c.id, s.kind,
              s.occurred_at, true,
              CASE WHEN s.kind IN ({amount_kinds})
                   THEN CASE WHEN c.currency = 'jpy' THEN c.mrr / 100 * 100 ELSE c.mrr END END,
              c.currency,
              CASE s.kind WHEN 'subscription_started' THEN c.mrr
                          WHEN 'plan_upgraded' THEN c.mrr / 2
                          WHEN 'plan_downgraded' THEN -c.mrr / 3
                          WHEN 'subscription_canceled' THEN -c.mrr ELSE 0 END,
              CASE WHEN s.kind LIKE 'payment%' THEN 'in_bench' || e.id ELSE '' END,
              CASE s.kind
                WHEN 'payment_failed' THEN jsonb_build_object(
                  'decline_code', (ARRAY['insufficient_funds','expired_card','do_not_honor',
                    'generic_decline'])[1 + (e.id % 4)::int],
                  'attempt_count', 1 + e.id % 4)
                WHEN 'payment_recovered' THEN jsonb_build_object('hours_to_recover',
                  round((random() * 200)::numeric, 1))
                WHEN 'subscription_canceled' THEN jsonb_build_object('churn_type',
                  CASE WHEN e.id % 3 = 0 THEN 'involuntary' ELSE 'voluntary' END)
                WHEN 'refund' THEN jsonb_build_object('reason', 'requested_by_customer')
                ELSE '{{}}'::jsonb END,
              s.occurred_at, ''
            FROM billing_stripeevent e
            CROSS JOIN LATERAL (
              SELECT {kind_case()} AS kind,
                     now() - {{age_days}} * interval '1 day' AS occurred_at
              FROM (SELECT random() + e.id * 0 AS r_kind) r
            ) s
            JOIN billing_customer c
              ON c.id = {{cmin}} + ((e.id - {{emin}}) * 7919) % {CUSTOMERS}
            WHERE e.workspace_id = {ws}
            """,
        ),
        (
            # Each failed signal is its own invoice, followed to an outcome: 60 % recovered a
            # few days later, 20 % lost, the rest still in dunning (billing.FailedInvoice).
            "failed invoices",
            f"""
            INSERT INTO billing_failedinvoice (workspace_id, connection_id, customer_id,
              invoice_id, subscription_stripe_id, livemode, currency, amount, attempts,
              first_failed_at, paid_at, amount_paid, lost_at, lost_reason)
            SELECT {ws}, {cn}, s.customer_id, s.object_id, s.subscription_stripe_id, true,
              s.currency, coalesce(s.amount, 0), 1 + s.id % 3, s.occurred_at,
              CASE WHEN s.id % 10 < 6 THEN s.occurred_at + (1 + s.id % 9) * interval '1 day' END,
              CASE WHEN s.id % 10 < 6 THEN coalesce(s.amount, 0) ELSE 0 END,
              CASE WHEN s.id % 10 IN (6, 7) THEN s.occurred_at + interval '20 days' END,
              CASE WHEN s.id % 10 IN (6, 7) THEN 'uncollectible' ELSE '' END
            FROM billing_revenuesignal s
            WHERE s.workspace_id = {ws} AND s.kind = 'payment_failed'
            """,
        ),
        (
            # Customer-level MRR movements, one per signal that moved MRR (billing.MrrMovement).
            "mrr movements",
            f"""
            INSERT INTO billing_mrrmovement (workspace_id, customer_id, connection_id, livemode,
              at, kind, currency, amount, mrr_after)
            SELECT {ws}, s.customer_id, {cn}, true, s.occurred_at,
              CASE s.kind WHEN 'subscription_started' THEN 'new'
                          WHEN 'plan_upgraded' THEN 'expansion'
                          WHEN 'plan_downgraded' THEN 'contraction'
                          ELSE 'churn_' || coalesce(s.details ->> 'churn_type', 'voluntary') END,
              s.currency, s.mrr_delta, greatest(s.mrr_delta, 0)
            FROM billing_revenuesignal s
            WHERE s.workspace_id = {ws} AND s.mrr_delta <> 0
            """,
        ),
        (
            "placements",
            f"""
            INSERT INTO journeys_signalplacement (workspace_id, signal_id, journey_id, step_id,
              rule_id)
            SELECT {ws}, s.id, {jn}, {step_case}, {rule_case}
            FROM billing_revenuesignal s WHERE s.workspace_id = {ws}
            """,
        ),
        (
            "rollups",
            f"""
            INSERT INTO journeys_stepdailyrollup (workspace_id, journey_id, step_id,
              connection_id, livemode, day, kind, currency, count, amount, mrr_delta)
            SELECT {ws}, p.journey_id, p.step_id, s.connection_id, bool_or(s.livemode),
              (s.occurred_at AT TIME ZONE 'UTC')::date, s.kind, s.currency, count(*),
              coalesce(sum(s.amount), 0), sum(s.mrr_delta)
            FROM journeys_signalplacement p JOIN billing_revenuesignal s ON s.id = p.signal_id
            WHERE p.workspace_id = {ws}
            GROUP BY p.journey_id, p.step_id, s.connection_id,
              (s.occurred_at AT TIME ZONE 'UTC')::date, s.kind, s.currency
            """,
        ),
    ]
    with connection.cursor() as cursor:
        for name, sql in steps:
            t = time.perf_counter()
            if name == "signals":
                cursor.execute(
                    "SELECT (SELECT min(id) FROM billing_customer WHERE workspace_id = %s),"
                    " (SELECT min(id) FROM billing_stripeevent WHERE workspace_id = %s)",
                    [ws, ws],
                )
                cmin, emin = cursor.fetchone()
                sql = sql.replace("{cmin}", str(cmin)).replace("{emin}", str(emin))
                sql = sql.replace("{age_days}", AGE_DAYS.format(emin=emin))
            cursor.execute(sql)
            print(f"  {name:14} {cursor.rowcount:>9} rows  {time.perf_counter() - t:6.1f} s")
        t = time.perf_counter()
        revenue_rollups_rebuild(workspace=workspace)
        print(f"  {'revenue rollups':14} {'':>9}       {time.perf_counter() - t:6.1f} s")
        t = time.perf_counter()
        customer_figures_rebuild(workspace=workspace)
        print(f"  {'figures rollup':14} {'':>9}       {time.perf_counter() - t:6.1f} s")
        t = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        print(f"  {'vacuum analyze':14} {'':>9}       {time.perf_counter() - t:6.1f} s")
    print(f"Generated in {time.perf_counter() - started:.1f} s")


def timed(client, url, headers=None, *, uncached=False) -> list[float]:
    """REPEAT timings of one URL; the first (cold: empty cache, cold plans) is printed apart.
    `uncached` empties the cache before every request, as a new signal does for the board."""
    from django.core.cache import cache

    headers = headers or {}
    t = time.perf_counter()
    response = client.get(url, **headers)
    COLD[url] = (time.perf_counter() - t) * 1000
    assert response.status_code == 200, (url, response.status_code)
    if response.streaming:
        b"".join(response.streaming_content)
    times = []
    CPU.clear()
    for _ in range(REPEAT):
        if uncached:
            cache.clear()
        t, cpu = time.perf_counter(), time.process_time()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - t) * 1000)
        CPU.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200, url
    return times


def chosen(name: str) -> bool:
    return not PAGES or any(word in name for word in PAGES)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench():
    from django.core.cache import cache
    from django.test import Client

    cache.clear()

    from billing.models import Customer, RevenueSignal
    from billing.selectors import CUSTOMER_SORTS
    from custory.models import User
    from journeys.models import Step

    client = Client()
    client.force_login(User.objects.get(email="bench@example.com"))
    steps = {s.name: s for s in Step.objects.filter(workspace__slug="bench")}
    last_id = RevenueSignal.objects.filter(workspace__slug="bench").order_by("-id").first().id
    signal_ids = RevenueSignal.objects.filter(workspace__slug="bench").values_list(
        "uuid", flat=True
    )
    sample_signals = [str(u) for u in signal_ids.order_by("?")[:REPEAT]]
    sample_customers = [
        str(u)
        for u in Customer.objects.filter(workspace__slug="bench")
        .order_by("?")
        .values_list("uuid", flat=True)[:REPEAT]
    ]
    hx = {"HTTP_HX_REQUEST": "true"}
    pages = [
        # Not a dashboard page: a near-empty workspace page, the floor under the machine's load.
        ("reference", "reference: settings index", "/w/bench/settings/", None),
        ("board", "board 7 days", "/w/bench/?period=7", None),
        ("board", "board 30 days", "/w/bench/?period=30", None),
        ("board", "board 90 days", "/w/bench/?period=90", None),
        ("board", "board 365 days", "/w/bench/?period=365", None),
        (
            "board",
            "board 365 d, kinds + live",
            "/w/bench/?period=365&kind=payment_failed&kind=refund&mode=live",
            None,
        ),
        (
            "fragment",
            "board fragment 90 d (htmx)",
            "/w/bench/?period=90",
            {**hx, "HTTP_HX_TARGET": "board-content"},
        ),
        (
            "fragment",
            "board MRR panel 365 d (htmx)",
            "/w/bench/?period=365&panel=mrr",
            {**hx, "HTTP_HX_TARGET": "mrr-panel"},
        ),
        ("fragment", "board live poll (htmx)", f"/w/bench/?live={last_id}&period=30", hx),
        (
            "step",
            "step Recurring payment 30 d",
            steps["Recurring payment"].get_absolute_url() + "?period=30",
            None,
        ),
        (
            "step",
            "step Recurring payment 365 d",
            steps["Recurring payment"].get_absolute_url() + "?period=365",
            None,
        ),
        ("step", "step Checkout 365 d", steps["Checkout"].get_absolute_url() + "?period=365", None),
        ("step", "step Dispute 365 d", steps["Dispute"].get_absolute_url() + "?period=365", None),
        (
            "fragment",
            "step signals page 3 (htmx)",
            steps["Recurring payment"].get_absolute_url() + "?period=90&page=3",
            {**hx, "HTTP_HX_TARGET": "step-signals"},
        ),
        (
            "fragment",
            "signals list filtered (htmx)",
            "/w/bench/signals/?kind=payment_failed&decline_code=expired_card",
            {**hx, "HTTP_HX_TARGET": "signal-results"},
        ),
        ("board", "signals list", "/w/bench/signals/", None),
        ("board", "revenue 90 days", "/w/bench/revenue/?period=90", None),
        ("board", "revenue 365 days", "/w/bench/revenue/?period=365", None),
        ("board", "customers list", "/w/bench/customers/", None),
        *(
            ("board", f"customers sorted: {label.lower()}", f"/w/bench/customers/?sort={key}", None)
            for key, label in CUSTOMER_SORTS.items()
        ),
        (
            "fragment",
            "customers search (htmx)",
            "/w/bench/customers/?q=customer123",
            {**hx, "HTTP_HX_TARGET": "customer-results"},
        ),
    ]
    print(
        f"\n{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'target':>6} {'':4} {'cold ms':>8}"
        f" {'CPU p50':>8}"
    )
    results = []
    for group, name, url, headers in pages:
        if not chosen(name):
            continue
        times = timed(client, url, headers)
        results.append((group, name, times, COLD[url], percentile(CPU, 50)))
    # The board's cached figures are dropped whenever a signal arrives: time it without them.
    for days in (7, 30, 90, 365):
        url = f"/w/bench/?period={days}"
        if not chosen(f"board {days} days, no cache"):
            continue
        times = timed(client, url, uncached=True)
        results.append(
            ("board", f"board {days} days, no cache", times, COLD[url], percentile(CPU, 50))
        )
    # Signal and customer pages: a different object each request.
    for group, name, urls in [
        ("signal", "signal page", [f"/w/bench/signals/{u}/" for u in sample_signals]),
        ("customer", "customer page", [f"/w/bench/customers/{u}/" for u in sample_customers]),
    ]:
        if not chosen(name):
            continue
        client.get(urls[0])
        times, cpu_times = [], []
        for url in urls:
            t, cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
            cpu_times.append((time.process_time() - cpu) * 1000)
            assert response.status_code == 200
        results.append((group, name, times, times[0], percentile(cpu_times, 50)))
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    for group, name, times, cold, cpu in results:
        p50, p95 = percentile(times, 50), percentile(times, 95)
        target = TARGETS_MS[group]
        flag = "" if not target else "ok" if p95 < target else "SLOW"
        print(f"{name:40} {p50:8.1f} {p95:8.1f} {target:>6} {flag:4} {cold:8.1f} {cpu:8.1f}")
    if not chosen("CSV export"):
        return
    t = time.perf_counter()
    response = client.get("/w/bench/signals/export.csv?period=90&kind=payment_failed")
    rows = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    print(f"CSV export: {rows} rows streamed in {time.perf_counter() - t:.1f} s")


def main():
    fresh = create_database()
    setup_django()
    from django.db import connection

    from billing.models import RevenueSignal

    print(f"Database {DB}: {SIGNALS} signals, {CUSTOMERS} customers")
    if fresh:
        generate()
    print(f"Signals in the database: {RevenueSignal.objects.count()}")
    connection.close()
    bench()


if __name__ == "__main__":
    main()
