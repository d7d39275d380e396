"""End to end on real processes: a failed payment posted as Stripe posts it (gunicorn) is
processed by the real `qcluster` and reaches a Slack-format endpoint within seconds."""

import json
import time
import urllib.request

import pytest

from tests.billing.apply_support import load
from tests.outbound_receiver import start_receiver
from tests.perf import harness

DEADLINE_SECONDS = 10


@pytest.mark.slow
def test_a_failed_payment_reaches_the_slack_channel_within_seconds(tmp_path):
    receiver = start_receiver()
    with harness.temp_database(tmp_dir=tmp_path) as url:
        env = harness.env_for(url, CUSTORY_OUTBOUND_ALLOW_PRIVATE="1", Q_WORKERS="2")
        ids = harness.prepare(env)
        out = harness.manage(
            env,
            "outbound_webhook_add",
            "bench",
            receiver.url,
            "--events",
            "payment_failed",
            "--format",
            "slack",
        )
        assert out.strip().splitlines()[-1].startswith("SECRET=whsec_")
        port = harness.free_port()
        server = harness.start_gunicorn(env, port, workers=1)
        cluster = harness.start_qcluster(env)
        try:
            time.sleep(2)  # the cluster's workers start
            body = json.dumps(load("synthetic_basil_invoice_payment_failed.json")).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/hooks/stripe/{ids['uuid']}/",
                data=body,
                headers={
                    "Stripe-Signature": harness.sign(body),
                    "Content-Type": "application/json",
                },
            )
            started = time.monotonic()
            assert urllib.request.urlopen(request, timeout=10).status == 200  # noqa: S310
            while not receiver.received and time.monotonic() - started < DEADLINE_SECONDS:
                time.sleep(0.05)
            elapsed = time.monotonic() - started
        finally:
            harness.stop_group(cluster)
            harness.stop_group(server)
            receiver.server.shutdown()
    print(f"\nStripe webhook → Slack-format delivery: {elapsed:.2f} s")
    (request,) = receiver.received
    message = json.loads(request.body)
    assert message["blocks"][0]["text"]["text"].startswith("Payment failed")
    assert elapsed < DEADLINE_SECONDS
