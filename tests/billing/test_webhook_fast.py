"""The webhook's WSGI fast path (billing.pipeline.webhook_fast) in front of Django: the same
answers as the Django view, one statement per cached request, revoke and retire refused at once."""

import io
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import OperationalError
from django.db import connection as db_connection

from billing.models import (
    ConnectionStatus,
    EventDrainState,
    EventSource,
    EventStatus,
    StripeEvent,
    WebhookSecret,
)
from billing.pipeline import hot_sql, webhook_fast
from custory import crypto
from custory.fast_routes import with_fast_routes
from tests.billing.pipeline_helpers import SECRET, connection_with_secret, event_payload
from tests.stripe_signing import sign_payload

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    db_connection.vendor != "postgresql", reason="the fast path serves PostgreSQL only"
)


@pytest.fixture
def connection(workspace):
    webhook_fast._endpoints.clear()
    return connection_with_secret(workspace)


@pytest.fixture
def app():
    """The WSGI stack of custory.wsgi, with a stand-in for Django to see what it hands over."""
    handed = []

    def django(environ, start_response):
        handed.append(environ["REQUEST_METHOD"])
        start_response("599 Django", [])
        return [b"django"]

    stack = with_fast_routes(django)

    def call(path, body=b"", *, method="POST", **headers):
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SERVER_NAME": "testserver",
            "HTTP_HOST": "testserver",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            **headers,
        }
        answer = {}

        def start_response(status, response_headers):
            answer["status"] = int(status.split()[0])
            answer["headers"] = dict(response_headers)

        answer["body"] = b"".join(stack(environ, start_response))
        return answer

    call.handed = handed
    return call


def post(app, connection, payload, *, secret=SECRET, **headers):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return app(
        connection.webhook_path(),
        raw,
        HTTP_STRIPE_SIGNATURE=sign_payload(raw, secret),
        **headers,
    )


@postgres_only
def test_a_signed_event_is_stored_as_the_view_stores_it(app, connection):
    payload = event_payload("invoice.payment_failed")
    answer = post(app, connection, payload)
    assert (answer["status"], answer["body"]) == (200, b"Stored.\n")
    assert answer["headers"]["Content-Type"].startswith("text/plain")
    event = StripeEvent.objects.get(stripe_id=payload["id"])
    assert (event.workspace_id, event.connection_id) == (connection.workspace_id, connection.pk)
    assert (event.type, event.source, event.status) == (
        "invoice.payment_failed",
        EventSource.WEBHOOK,
        EventStatus.PENDING,
    )
    assert event.payload == payload
    assert event.next_attempt_at is not None
    assert EventDrainState.objects.get(pk=1).requested
    assert app.handed == []


@postgres_only
def test_a_duplicate_is_acked_once_stored(app, connection):
    payload = event_payload()
    assert post(app, connection, payload)["body"] == b"Stored.\n"
    assert post(app, connection, payload)["body"] == b"Already stored.\n"
    assert StripeEvent.objects.filter(stripe_id=payload["id"]).count() == 1


@postgres_only
def test_types_we_do_not_process_are_stored_ignored_without_a_drain(app, connection):
    payload = event_payload("product.created")
    assert post(app, connection, payload)["status"] == 200
    event = StripeEvent.objects.get(stripe_id=payload["id"])
    assert (event.status, event.next_attempt_at) == (EventStatus.IGNORED, None)
    assert not EventDrainState.objects.filter(pk=1, requested=True).exists()


@postgres_only
def test_a_cached_endpoint_takes_one_statement(app, connection, monkeypatch):
    post(app, connection, event_payload())  # caches the endpoint
    calls = []
    real = webhook_fast._execute
    monkeypatch.setattr(
        webhook_fast, "_execute", lambda sql, *a, **k: calls.append(sql) or real(sql, *a, **k)
    )
    assert post(app, connection, event_payload())["status"] == 200
    assert len(calls) == 1


@postgres_only
def test_a_revoke_is_refused_at_once_whatever_the_cache_says(app, connection):
    assert post(app, connection, event_payload())["status"] == 200  # cached now
    connection.status = ConnectionStatus.REVOKED
    connection.save()
    answer = post(app, connection, event_payload())
    assert (answer["status"], answer["body"]) == (410, b"This webhook endpoint was revoked.\n")
    assert StripeEvent.objects.count() == 1


@postgres_only
def test_a_retired_secret_is_refused_at_once(app, connection):
    assert post(app, connection, event_payload())["status"] == 200
    connection.webhook_secrets.all().delete()  # retiring deletes the secret
    answer = post(app, connection, event_payload())
    assert (answer["status"], answer["body"]) == (400, b"Invalid signature.\n")


@postgres_only
def test_a_secret_added_by_rotation_verifies_at_once(app, connection):
    assert post(app, connection, event_payload())["status"] == 200
    new_secret = "whsec_newsecretafterrotation0123456789"
    WebhookSecret.objects.create(
        connection=connection, secret_encrypted=crypto.encrypt(new_secret), hint="new"
    )
    assert post(app, connection, event_payload(), secret=new_secret)["status"] == 200
    assert post(app, connection, event_payload(), secret=SECRET)["status"] == 200


@postgres_only
@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"secret": "whsec_wrongsecretvalue123"}, 400, "Invalid signature."),
        ({"payload": b"not json"}, 400, "Body is not JSON."),
        ({"payload": {"id": "evt_1", "object": "charge"}}, 400, "Body is not a Stripe event."),
        ({"payload": b'{"a": "\\u0000"}'}, 400, "Body is not a Stripe event."),
    ],
)
def test_bad_input_is_a_clear_400(app, connection, change, status, reason):
    kwargs = {"secret": change.get("secret", SECRET)}
    answer = post(app, connection, change.get("payload", event_payload()), **kwargs)
    assert (answer["status"], answer["body"].decode()) == (status, reason + "\n")
    assert StripeEvent.objects.count() == 0


@postgres_only
def test_a_nul_escape_is_stripped_and_the_event_stored(app, connection):
    payload = event_payload(note="a\u0000b")
    assert post(app, connection, payload)["status"] == 200
    assert StripeEvent.objects.get(stripe_id=payload["id"]).payload["note"] == "ab"


@postgres_only
def test_the_fast_path_refuses_the_other_mode_and_counts_it(app, connection):
    answer = post(app, connection, event_payload(livemode=True))
    assert (answer["status"], answer["body"]) == (
        400,
        b"A live-mode event was sent to this test-mode connection.\n",
    )
    connection.refresh_from_db()
    assert connection.livemode_refused == 1


@postgres_only
def test_the_fast_path_refuses_future_timestamps_and_deep_nesting(app, connection):
    raw = json.dumps(event_payload()).encode()
    future = sign_payload(raw, SECRET, int(time.time()) + 330)
    assert app(connection.webhook_path(), raw, HTTP_STRIPE_SIGNATURE=future)["status"] == 400
    deep = b'{"id": "evt_deep", "object": "event", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    answer = post(app, connection, deep)
    assert (answer["status"], answer["body"]) == (400, b"Body is nested too deeply.\n")


@postgres_only
def test_missing_signature_unknown_endpoint_and_too_large(app, connection, settings):
    raw = json.dumps(event_payload()).encode()
    assert app(connection.webhook_path(), raw)["body"] == b"Missing Stripe-Signature header.\n"
    unknown = connection.webhook_path().replace(str(connection.uuid), str(uuid.uuid4()))
    assert app(unknown, raw)["status"] == 404
    settings.STRIPE_WEBHOOK_MAX_BYTES = 100
    assert post(app, connection, event_payload())["status"] == 413


@postgres_only
def test_a_database_error_is_a_503(app, connection, monkeypatch):
    def down(*args, **kwargs):
        raise psycopg.OperationalError("database is down")

    monkeypatch.setattr(webhook_fast, "_execute", down)
    assert post(app, connection, event_payload())["status"] == 503


def test_what_the_fast_path_does_not_serve_goes_to_django(app, connection):
    raw = json.dumps(event_payload()).encode()
    app(connection.webhook_path(), method="GET")
    app(connection.webhook_path(), raw, HTTP_HOST="evil.example")
    app(connection.webhook_path()[:-1], raw)  # no trailing slash: Django's 404
    app("/hooks/stripe/not-a-uuid/", raw)
    handed = 4
    if db_connection.vendor != "postgresql":
        post(app, connection, event_payload())
        handed += 1
    assert len(app.handed) == handed


# Group commit: concurrent acks share one multi-row INSERT and one commit (_store_many).


def rows_for(connection, *payloads):
    secret_id = connection.webhook_secrets.get().pk
    return [
        webhook_fast._row(connection.uuid, secret_id, payload, json.dumps(payload).encode())
        for payload in payloads
    ]


@postgres_only
def test_a_batch_stores_each_event_once_and_a_repeated_id_as_already_stored(connection):
    first, second = event_payload(), event_payload("product.created")
    outcomes = webhook_fast._store_many(rows_for(connection, first, second, first))
    assert outcomes == [(True, True), (True, True), (True, False)]
    assert StripeEvent.objects.filter(stripe_id=first["id"]).count() == 1
    assert StripeEvent.objects.get(stripe_id=second["id"]).status == EventStatus.IGNORED
    assert StripeEvent.objects.get(stripe_id=first["id"]).status == EventStatus.PENDING
    assert EventDrainState.objects.get(pk=1).requested


@postgres_only
def test_a_batch_refuses_only_the_rows_of_a_revoked_endpoint(connection, workspace):
    other = connection_with_secret(workspace)
    other.status = ConnectionStatus.REVOKED
    other.save()
    kept, refused = event_payload(), event_payload()
    outcomes = webhook_fast._store_many(rows_for(connection, kept) + rows_for(other, refused))
    assert outcomes == [(True, True), (False, False)]
    assert list(StripeEvent.objects.values_list("stripe_id", flat=True)) == [kept["id"]]


def post_from_threads(app, connection, payloads):
    """Post each payload from its own thread, all at once; the answers in the same order."""

    def post_and_close(payload):
        try:
            return post(app, connection, payload)
        finally:
            db_connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(len(payloads)) as pool:
        return list(pool.map(post_and_close, payloads))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_are_all_acked_and_each_stored_once(app, connection):
    distinct = [event_payload() for _ in range(24)]
    payloads = distinct + distinct[:8]  # Stripe's retries arrive together with the originals
    answers = post_from_threads(app, connection, payloads)
    assert [answer["status"] for answer in answers] == [200] * len(payloads)
    bodies = sorted(answer["body"] for answer in answers)
    assert bodies == [b"Already stored.\n"] * 8 + [b"Stored.\n"] * 24
    stored = StripeEvent.objects.values_list("stripe_id", flat=True)
    assert sorted(stored) == sorted(payload["id"] for payload in distinct)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_row_the_database_refuses_does_not_fail_its_neighbours(app, connection):
    good = [event_payload(), event_payload()]
    poisoned = event_payload(api_version="v" * 100)  # longer than the column: a DataError
    outcomes = webhook_fast._store_many(rows_for(connection, good[0], poisoned, good[1]))
    assert outcomes[0] == outcomes[2] == (True, True)
    assert isinstance(outcomes[1], psycopg.DataError)
    answer = post(app, connection, event_payload(api_version="v" * 100))
    assert (answer["status"], answer["body"]) == (400, b"The event cannot be stored.\n")
    stored = sorted(StripeEvent.objects.values_list("stripe_id", flat=True))
    assert stored == sorted(payload["id"] for payload in good)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_when_the_database_is_unreachable_every_request_of_a_batch_is_a_503(
    app, connection, monkeypatch
):
    post(app, connection, event_payload())  # the endpoint is cached, nothing left to read
    rows = rows_for(connection, event_payload(), event_payload())
    db_connection.close()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setitem(db_connection.settings_dict, "PORT", closed.getsockname()[1])
        outcomes = webhook_fast._store_many(rows)
        unavailable = (psycopg.OperationalError, OperationalError)
        assert [isinstance(outcome, unavailable) for outcome in outcomes] == [True, True]
        answers = post_from_threads(app, connection, [event_payload() for _ in range(6)])
    monkeypatch.undo()
    assert [answer["status"] for answer in answers] == [503] * 6
    assert StripeEvent.objects.count() == 1


def test_a_row_carries_the_columns_in_the_order_of_the_batch_statement():
    assert webhook_fast._Row._fields == ("endpoint", "secret_id", *hot_sql._BATCH_FIELDS, "due")
