"""The Stripe settings pages, as an admin uses them, and as nobody else can."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse
from django.utils import timezone

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import (
    ConnectionStatus,
    HistoryImport,
    ImportStatus,
    StripeConnection,
    StripeEvent,
)
from billing.pipeline import connections
from custory import crypto
from custory.models import AuditEvent
from tests.factories import StripeEventFactory
from tests.stripe_fake import (
    RK_LIVE,
    RK_TEST,
    RK_TEST_2,
    WHSEC_NEW,
    WHSEC_OLD,
    serve_fake_stripe,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_stripe(settings):
    yield from serve_fake_stripe(settings)


@pytest.fixture
def connection(workspace, admin):
    return connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, label="Main"
    )


def _list_url(workspace):
    return reverse("billing:stripe_settings", args=[workspace.slug])


def _url(name, connection):
    return reverse(f"billing:{name}", args=[connection.workspace.slug, connection.uuid])


CONNECTION_URLS = [
    "connection_detail",
    "secret_add",
    "secret_retire",
    "key_replace",
    "key_verify",
    "endpoint_create",
    "history_import",
    "history_import_cancel",
    "history_import_resume",
    "connection_revoke",
]


def _all_urls(connection):
    return [_list_url(connection.workspace)] + [_url(n, connection) for n in CONNECTION_URLS]


@pytest.mark.parametrize("who", ["member", "support", "outsider", "stranger"])
def test_it_checks_role_on_every_stripe_settings_url(request, client_for, connection, who):
    client = client_for(request.getfixturevalue(who))
    for url in _all_urls(connection):
        assert client.get(url).status_code == 404, url
        response = client.post(url, {"webhook_secret": WHSEC_NEW, "data": "delete"})
        assert response.status_code == 404, url
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ACTIVE
    assert connection.webhook_secrets.count() == 1


def test_it_checks_workspace_for_a_connection_of_another_workspace(
    client_for, connection, outsider, other_workspace
):
    client = client_for(outsider)
    for name in CONNECTION_URLS:
        url = reverse(f"billing:{name}", args=[other_workspace.slug, connection.uuid])
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"data": "delete"}).status_code == 404, url
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ACTIVE


def test_it_works_an_empty_page_explains_what_custory_needs(client_for, workspace, admin):
    response = client_for(admin).get(_list_url(workspace))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Stripe is not connected yet" in html
    for permission in connections.REQUIRED_PERMISSIONS:
        assert permission.resource in html
    assert "Webhook Endpoints" in html
    for event_type in PROCESSED_EVENT_TYPES:
        assert f"<code>{event_type}</code>" in html
    assert 'name="webhook_secret"' in html


def test_connecting_leads_to_the_webhook_url_and_never_shows_the_secret(
    client_for, workspace, admin
):
    client = client_for(admin)
    response = client.post(
        _list_url(workspace),
        {"label": "Main", "mode": "test", "webhook_secret": f"  {WHSEC_OLD}  ", "api_key": ""},
        follow=True,
    )
    connection = StripeConnection.objects.get()
    assert response.redirect_chain[0][0] == _url("connection_detail", connection) + "#webhook"
    html = response.content.decode()
    assert connection.webhook_url() in html
    assert f"http://localhost:8000/hooks/stripe/{connection.uuid}/" in html
    assert "whsec_…AbCd" in html
    assert WHSEC_OLD not in html
    assert WHSEC_OLD not in client.get(_list_url(workspace)).content.decode()


def test_connecting_with_a_verified_key_shows_the_account(
    client_for, workspace, admin, fake_stripe
):
    fake_stripe.add_key(RK_LIVE, account_id="acct_1Live", account_name="Acme Live")
    client = client_for(admin)
    response = client.post(
        _list_url(workspace),
        {"label": "", "mode": "live", "webhook_secret": WHSEC_OLD, "api_key": RK_LIVE},
        follow=True,
    )
    html = response.content.decode()
    assert "Acme Live" in html and "acct_1Live" in html
    assert "rk_live_…4Pqr" in html
    assert RK_LIVE not in html
    listing = client.get(_list_url(workspace)).content.decode()
    assert 'class="badge live"' in listing
    assert RK_LIVE not in listing


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"webhook_secret": ""}, "Paste the webhook signing secret"),
        ({"api_key": "sk_live_51AcmeFullSecretKey000000000000"}, "full secret key"),
        ({"api_key": "pk_test_51AcmePublishableKey00000000000"}, "publishable key"),
        ({"api_key": "y" * 10_240}, "10,240 characters"),
        ({"api_key": RK_TEST, "mode": "live"}, "test-mode key"),
        ({"label": "Acme live", "mode": "test"}, "The label says"),
        ({"mode": "sandbox"}, "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_clear_message_and_saves_nothing(
    client_for, workspace, admin, fields, message
):
    data = {"label": "", "mode": "test", "webhook_secret": WHSEC_OLD, "api_key": ""} | fields
    response = client_for(admin).post(_list_url(workspace), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert not StripeConnection.objects.exists()
    for value in fields.values():
        if len(value) > 20:
            assert value not in html


def test_a_key_stripe_rejects_is_reported_on_the_form(client_for, workspace, admin, fake_stripe):
    response = client_for(admin).post(
        _list_url(workspace),
        {"label": "", "mode": "test", "webhook_secret": WHSEC_OLD, "api_key": RK_TEST},
    )
    assert response.status_code == 400
    assert "did not accept this API key" in response.content.decode()
    assert RK_TEST not in response.content.decode()
    assert not StripeConnection.objects.exists()


def test_without_encryption_keys_the_page_explains_instead_of_a_form(
    client_for, workspace, admin, settings
):
    settings.CUSTORY_ENCRYPTION_KEYS = []
    crypto._fernet.cache_clear()
    client = client_for(admin)
    try:
        html = client.get(_list_url(workspace)).content.decode()
        assert "CUSTORY_ENCRYPTION_KEYS" in html
        assert 'name="webhook_secret"' not in html
        response = client.post(_list_url(workspace), {"mode": "test", "webhook_secret": WHSEC_OLD})
        assert response.status_code == 503
    finally:
        crypto._fernet.cache_clear()
    assert not StripeConnection.objects.exists()


def test_the_list_page_costs_a_fixed_number_of_queries(
    client_for, workspace, admin, django_assert_max_num_queries
):
    for n in range(5):
        created = connections.connection_create(
            workspace=workspace,
            actor=admin,
            webhook_secret=f"whsec_ManyConnectionsSecret0000000000{n}",
            label=f"Account {n}",
        )
        StripeEventFactory(workspace=workspace, connection=created)
    client = client_for(admin)
    with django_assert_max_num_queries(8):
        response = client.get(_list_url(workspace))
    assert response.content.decode().count("Last event received") == 5


def test_rotating_through_the_page(client_for, connection, admin):
    client = client_for(admin)
    response = client.post(_url("secret_add", connection), {"webhook_secret": WHSEC_NEW})
    assert response.status_code == 302
    assert connections.webhook_secrets_active(connection=connection) == [WHSEC_OLD, WHSEC_NEW]
    html = client.get(_url("connection_detail", connection)).content.decode()
    assert "Retire whsec_…AbCd" in html and WHSEC_NEW not in html
    old = connection.webhook_secrets.get(hint="whsec_…AbCd")
    client.post(_url("secret_retire", connection), {"secret": old.pk})
    assert connections.webhook_secrets_active(connection=connection) == [WHSEC_NEW]


def test_a_bad_new_secret_is_shown_on_the_connection_page(client_for, connection, admin):
    response = client_for(admin).post(_url("secret_add", connection), {"webhook_secret": "nope"})
    assert response.status_code == 400
    assert "does not look like a webhook signing secret" in response.content.decode()
    assert connection.webhook_secrets.count() == 1


def test_retiring_the_only_secret_is_refused_with_a_message(client_for, connection, admin):
    secret = connection.webhook_secrets.get()
    response = client_for(admin).post(
        _url("secret_retire", connection), {"secret": secret.pk}, follow=True
    )
    assert "only signing secret" in response.content.decode()
    assert connection.webhook_secrets.count() == 1


def test_replacing_the_key_through_the_page(client_for, connection, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST_2, account_id="acct_1Acme")
    client = client_for(admin)
    refused = client.post(_url("key_replace", connection), {"api_key": RK_TEST})
    assert refused.status_code == 400
    assert "did not accept" in refused.content.decode()
    response = client.post(_url("key_replace", connection), {"api_key": RK_TEST_2}, follow=True)
    assert "rk_test_…7Lmn" in response.content.decode()
    assert RK_TEST_2 not in response.content.decode()
    connection.refresh_from_db()
    assert connection.account_id == "acct_1Acme"


def test_a_get_on_an_action_url_leads_back_to_the_connection(client_for, connection, admin):
    response = client_for(admin).get(_url("secret_add", connection))
    assert response.status_code == 302
    assert response["Location"] == _url("connection_detail", connection)


def test_create_the_endpoint_for_me(client_for, workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, can_write_endpoints=True)
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    client = client_for(admin)
    assert (
        "Create the endpoint for me"
        in client.get(_url("connection_detail", connection)).content.decode()
    )
    response = client.post(_url("endpoint_create", connection), follow=True)
    assert "Created the webhook endpoint" in response.content.decode()
    connection.refresh_from_db()
    assert connection.stripe_webhook_endpoint_id.startswith("we_")


def test_importing_history_from_the_page_and_polling_its_progress(
    client_for, workspace, admin, fake_stripe, django_capture_on_commit_callbacks
):
    fake_stripe.add_key(RK_TEST)
    for _ in range(3):
        fake_stripe.add_event(type="invoice.payment_failed")
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("history_import", connection))
    assert response.status_code == 302
    history_import = HistoryImport.objects.get()
    assert history_import.status == ImportStatus.DONE
    assert StripeEvent.objects.filter(connection=connection).count() == 3

    fragment = client.get(_url("history_import", connection), HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html
    assert 'id="import-panel"' in html
    assert "events</td><td>3</td>" in html
    assert "every 2s" not in html
    assert "Import history" in html  # the finished poll offers the next import
    assert "cannot rebuild exactly" in html
    assert fragment["Vary"] and "HX-Request" in fragment["Vary"]


def test_a_running_import_polls_every_two_seconds(client_for, connection, admin):
    HistoryImport.objects.create(
        workspace=connection.workspace,
        connection=connection,
        status=ImportStatus.RUNNING,
        events_seen=100,
    )
    client = client_for(admin)
    html = client.get(_url("history_import", connection), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert "Import history" not in html
    assert f'href="{_url("history_import", connection)}"' in html
    client.post(_url("history_import_cancel", connection))
    assert HistoryImport.objects.get().status == ImportStatus.CANCELED


def test_an_import_from_a_date_is_stopped_and_resumed_from_the_page(
    client_for, workspace, admin, fake_stripe, django_capture_on_commit_callbacks
):
    fake_stripe.add_key(RK_TEST)
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    client = client_for(admin)
    client.post(_url("history_import", connection), {"since": "2025-01-31"})  # queued, not run
    history_import = HistoryImport.objects.get()
    assert history_import.since.isoformat() == "2025-01-31T00:00:00+00:00"
    client.post(_url("history_import_cancel", connection))
    html = client.get(_url("connection_detail", connection)).content.decode()
    assert "Resume the import" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("history_import_resume", connection), follow=True)
    assert "continues where it stopped" in response.content.decode()
    history_import.refresh_from_db()
    assert history_import.status == ImportStatus.DONE
    assert HistoryImport.objects.count() == 1


def test_importing_without_a_key_is_refused_with_a_message(client_for, connection, admin):
    response = client_for(admin).post(_url("history_import", connection), follow=True)
    assert "needs a restricted API key" in response.content.decode()
    assert not HistoryImport.objects.exists()


def test_the_revoke_dialog_spells_out_the_consequences(client_for, connection, admin):
    html = client_for(admin).get(_url("connection_revoke", connection)).content.decode()
    assert "410 Gone" in html
    assert "erased" in html
    assert 'value="keep"' in html and 'value="delete"' in html
    assert "Tasks stay" in html


def test_revoking_needs_a_choice_about_the_data(client_for, connection, admin):
    response = client_for(admin).post(_url("connection_revoke", connection), {})
    assert response.status_code == 400
    assert "Choose whether to keep or to delete the data" in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ACTIVE


def test_revoking_with_purge_through_the_page(client, client_for, connection, admin):
    StripeEventFactory(workspace=connection.workspace, connection=connection)
    response = client_for(admin).post(
        _url("connection_revoke", connection), {"data": "delete"}, follow=True
    )
    html = response.content.decode()
    assert "answers 410 Gone" in html and "Deleted 1 events" in html
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.REVOKED
    assert not StripeEvent.objects.filter(connection=connection).exists()
    assert AuditEvent.objects.filter(action="stripe.purge", actor=admin).exists()
    detail = client.get(_url("connection_detail", connection)).content.decode()
    assert "This connection is revoked" in detail
    assert "Add secret" not in detail


def test_without_encryption_keys_connection_actions_explain_instead_of_failing(
    client_for, connection, admin, settings
):
    settings.CUSTORY_ENCRYPTION_KEYS = []
    crypto._fernet.cache_clear()
    client = client_for(admin)
    try:
        detail = client.get(_url("connection_detail", connection)).content.decode()
        assert "CUSTORY_ENCRYPTION_KEYS" in detail
        response = client.post(
            _url("secret_add", connection), {"webhook_secret": WHSEC_NEW}, follow=True
        )
        assert response.status_code == 200
        assert "has no encryption key" in response.content.decode()
    finally:
        crypto._fernet.cache_clear()
    assert connection.webhook_secrets.count() == 1


def test_a_secret_no_configured_key_decrypts_is_explained(
    client_for, connection, admin, settings, fake_stripe
):
    connection.api_key_encrypted = Fernet(Fernet.generate_key()).encrypt(RK_TEST.encode()).decode()
    connection.api_key_hint = "rk_test_…9xQz"
    connection.save()
    response = client_for(admin).post(_url("key_verify", connection), follow=True)
    assert "cannot decrypt" in response.content.decode()
    assert fake_stripe.requests == []


def test_the_connection_page_costs_a_fixed_number_of_queries(
    client_for, connection, admin, django_assert_max_num_queries
):
    connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_NEW)
    HistoryImport.objects.create(workspace=connection.workspace, connection=connection)
    client = client_for(admin)
    with django_assert_max_num_queries(8):
        response = client.get(_url("connection_detail", connection))
    assert response.status_code == 200
    assert "whsec_…WxYz" in response.content.decode()


def test_a_stalled_import_is_offered_to_resume_and_continues(
    client_for, workspace, admin, fake_stripe, django_capture_on_commit_callbacks
):
    fake_stripe.add_key(RK_TEST)
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    HistoryImport.objects.create(
        workspace=workspace,
        connection=connection,
        status=ImportStatus.RUNNING,
        owner="elsewhere:1:dead",
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    client = client_for(admin)
    assert (
        "the process running it stopped"
        in client.get(_url("connection_detail", connection)).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("history_import_resume", connection))
    assert HistoryImport.objects.get().status == ImportStatus.DONE
