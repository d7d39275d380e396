"""Connecting, verifying, rotating and replacing: the services in billing.pipeline.connections."""

import json

import pytest
import stripe
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db import connection as db

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import ConnectionStatus, StripeConnection, WebhookSecret
from billing.pipeline import connections
from custory import crypto
from custory.models import AuditEvent
from tests.factories import StripeConnectionFactory
from tests.stripe_fake import (
    RK_LIVE,
    RK_TEST,
    RK_TEST_2,
    WHSEC_NEW,
    WHSEC_OLD,
    serve_fake_stripe,
)
from tests.stripe_signing import sign_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_stripe(settings):
    yield from serve_fake_stripe(settings)


def _connect(workspace, admin, **kwargs):
    kwargs.setdefault("webhook_secret", WHSEC_OLD)
    return connections.connection_create(workspace=workspace, actor=admin, **kwargs)


def _audit_text(workspace) -> str:
    return json.dumps(
        list(
            AuditEvent.objects.filter(workspace=workspace).values("action", "data", "target_label")
        ),
        ensure_ascii=False,
    )


def test_connecting_with_only_a_signing_secret_stores_it_encrypted(workspace, admin):
    connection = _connect(workspace, admin, label="Main")
    assert connection.label == "Main"
    assert connection.livemode is False
    assert connection.tracked_event_types == list(PROCESSED_EVENT_TYPES)
    assert connections.webhook_secrets_active(connection=connection) == [WHSEC_OLD]
    assert connection.webhook_secrets.get().hint == "whsec_…AbCd"
    assert AuditEvent.objects.filter(workspace=workspace, action="stripe.connect").count() == 1


def test_the_database_holds_no_secret_in_clear(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, account_id="acct_1Acme")
    connection = _connect(workspace, admin, api_key=RK_TEST)
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_encrypted, api_key_hint FROM billing_stripeconnection WHERE id = %s",
            [connection.pk],
        )
        key_columns = " ".join(cursor.fetchone())
        cursor.execute(
            "SELECT secret_encrypted, hint FROM billing_webhooksecret WHERE connection_id = %s",
            [connection.pk],
        )
        secret_columns = " ".join(cursor.fetchone())
    assert RK_TEST not in key_columns
    assert RK_TEST[8:] not in key_columns
    assert WHSEC_OLD not in secret_columns
    assert WHSEC_OLD[6:] not in secret_columns
    assert crypto.decrypt(connection.api_key_encrypted) == RK_TEST


def test_the_audit_log_holds_only_masked_secrets(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST)
    fake_stripe.add_key(RK_TEST_2, account_id=fake_stripe.keys[RK_TEST].account_id)
    connection = _connect(workspace, admin, api_key=RK_TEST)
    connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_NEW)
    connections.api_key_replace(connection=connection, actor=admin, api_key=RK_TEST_2)
    text = _audit_text(workspace)
    for secret in (RK_TEST, RK_TEST_2, WHSEC_OLD, WHSEC_NEW):
        assert secret not in text
        assert secret[-12:] not in text
    assert "rk_test_…9xQz" in text and "whsec_…WxYz" in text


def test_a_verified_key_fills_in_the_account(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, account_id="acct_1Acme", account_name="Acme SaaS")
    connection = _connect(workspace, admin, api_key=RK_TEST)
    assert (connection.account_id, connection.account_name) == ("acct_1Acme", "Acme SaaS")
    assert connection.api_key_hint == "rk_test_…9xQz"
    assert connection.api_key_verified_at is not None


def test_the_cli_path_takes_live_mode_from_the_key(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_LIVE)
    connection = _connect(workspace, admin, api_key=RK_LIVE)
    assert connection.livemode is True
    assert connection.label == "Stripe live"


def test_a_key_stripe_rejects_saves_nothing(workspace, admin, fake_stripe):
    with pytest.raises(ValidationError) as caught:
        _connect(workspace, admin, api_key=RK_TEST)
    assert "did not accept this API key" in caught.value.message_dict["api_key"][0]
    assert not StripeConnection.objects.exists()
    assert not WebhookSecret.objects.exists()


def test_the_same_account_cannot_be_connected_twice_in_one_mode(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, account_id="acct_1Acme")
    fake_stripe.add_key(RK_TEST_2, account_id="acct_1Acme")
    _connect(workspace, admin, api_key=RK_TEST)
    with pytest.raises(ValidationError) as caught:
        _connect(workspace, admin, api_key=RK_TEST_2, webhook_secret=WHSEC_NEW)
    assert "already connected" in caught.value.message_dict["api_key"][0]
    assert StripeConnection.objects.count() == 1


def test_test_and_live_connections_sit_side_by_side(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, account_id="acct_1Acme")
    fake_stripe.add_key(RK_LIVE, account_id="acct_1Acme")
    _connect(workspace, admin, api_key=RK_TEST)
    _connect(workspace, admin, api_key=RK_LIVE, webhook_secret=WHSEC_NEW)
    modes = sorted(StripeConnection.objects.values_list("livemode", flat=True))
    assert modes == [False, True]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("sk_test_51AcmeFullSecretKey000000000000", "full secret key"),
        ("sk_live_51AcmeFullSecretKey000000000000", "full secret key"),
        ("pk_test_51AcmePublishableKey00000000000", "publishable key"),
        ("rk_test_short", "does not look like a restricted API key"),
        ("rk_test_51Acme Restricted Key With Spaces", "does not look like"),
        ("whsec_0ldSigningSecretForTests0000000AbCd", "webhook signing secret, not an API key"),
        ("x" * 10_240, "10,240 characters"),
        ("rk_prod_51AcmeRestrictedKeyForTests0000", "rk_test_ or rk_live_"),
    ],
)
def test_bad_api_keys_are_refused_with_a_clear_message(value, fragment):
    with pytest.raises(ValidationError) as caught:
        connections.clean_api_key(value)
    assert fragment in " ".join(caught.value.messages)


def test_the_secret_key_message_is_short_and_points_at_the_permission_table():
    with pytest.raises(ValidationError) as caught:
        connections.clean_api_key("sk_live_51AcmeFullSecretKey000000000000")
    message = caught.value.messages[0]
    assert "read permissions listed on the Stripe settings page" in message
    assert len(message) < 320
    assert not any(p.why in message for p in connections.REQUIRED_PERMISSIONS)
    assert "sk_live_51Acme" not in message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "Paste the webhook signing secret"),
        ("   ", "Paste the webhook signing secret"),
        ("whsec_", "does not look like a webhook signing secret"),
        ("wh_0ldSigningSecretForTests0000000AbCd", "does not look like"),
        ("whsec_has spaces inside it 00000000", "does not look like"),
        ("rk_test_51AcmeRestrictedKeyForTests00009xQz", "That is an API key"),
        ("whsec_" + "a" * 10_240, "characters long"),
    ],
)
def test_bad_webhook_secrets_are_refused_with_a_clear_message(value, fragment):
    with pytest.raises(ValidationError) as caught:
        connections.clean_webhook_secret(value)
    assert fragment in " ".join(caught.value.messages)


def test_whitespace_around_a_valid_value_is_trimmed():
    assert connections.clean_api_key(f"  {RK_TEST}\n") == RK_TEST
    assert connections.clean_webhook_secret(f"\t{WHSEC_OLD}  ") == WHSEC_OLD
    assert connections.clean_api_key("   ") == ""


def test_an_empty_key_is_refused_where_one_is_required():
    with pytest.raises(ValidationError, match="Paste the restricted API key"):
        connections.clean_api_key("", required=True)


def test_a_test_key_on_a_live_connection_is_a_mode_mismatch():
    with pytest.raises(ValidationError) as caught:
        connections.check_mode(livemode=True, api_key=RK_TEST)
    assert "test-mode key" in caught.value.message_dict["api_key"][0]


def test_a_label_that_says_the_other_mode_is_a_mismatch():
    with pytest.raises(ValidationError) as caught:
        connections.check_mode(livemode=False, label="Acme live")
    assert "says “live”" in caught.value.message_dict["label"][0]
    connections.check_mode(livemode=False, label="Acme test (not live)")


def _verifies(connection, body: bytes, header: str) -> bool:
    for secret in connections.webhook_secrets_active(connection=connection):
        try:
            stripe.WebhookSignature.verify_header(body, header, secret, tolerance=300)
        except stripe.SignatureVerificationError:
            continue
        return True
    return False


def test_during_rotation_both_secrets_verify_and_the_retired_one_fails_after(workspace, admin):
    connection = _connect(workspace, admin)
    body = json.dumps({"id": "evt_1", "object": "event", "type": "invoice.paid"}).encode()
    signed_old = sign_payload(body, WHSEC_OLD)
    signed_new = sign_payload(body, WHSEC_NEW)
    assert _verifies(connection, body, signed_old)
    assert not _verifies(connection, body, signed_new)

    connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_NEW)
    assert _verifies(connection, body, signed_old)
    assert _verifies(connection, body, signed_new)

    old = connection.webhook_secrets.get(hint="whsec_…AbCd")
    connections.webhook_secret_retire(connection=connection, actor=admin, secret_id=old.pk)
    assert not _verifies(connection, body, signed_old)
    assert _verifies(connection, body, signed_new)
    assert not WebhookSecret.objects.filter(pk=old.pk).exists()
    actions = list(AuditEvent.objects.filter(workspace=workspace).values_list("action", flat=True))
    assert {"stripe.secret_add", "stripe.secret_retire"} <= set(actions)


def test_the_signing_helper_matches_what_stripe_verifies():
    body = b'{"id": "evt_1"}'
    header = sign_payload(body, WHSEC_OLD, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, header, WHSEC_OLD, tolerance=300)
    assert stripe.WebhookSignature.verify_header(body, sign_payload(body, WHSEC_OLD), WHSEC_OLD)


def test_the_only_secret_cannot_be_retired(workspace, admin):
    connection = _connect(workspace, admin)
    secret = connection.webhook_secrets.get()
    with pytest.raises(ValidationError, match="only signing secret"):
        connections.webhook_secret_retire(connection=connection, actor=admin, secret_id=secret.pk)
    assert connection.webhook_secrets.count() == 1


def test_a_third_secret_waits_until_one_is_retired(workspace, admin):
    connection = _connect(workspace, admin)
    connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_NEW)
    with pytest.raises(ValidationError, match="Retire the older one"):
        connections.webhook_secret_add(
            connection=connection, actor=admin, webhook_secret="whsec_ThirdSecretForTests00000000Zz"
        )
    assert connection.webhook_secrets.count() == 2


def test_adding_the_same_secret_twice_is_refused(workspace, admin):
    connection = _connect(workspace, admin)
    with pytest.raises(ValidationError, match="already saved"):
        connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_OLD)


def test_replacing_the_key_verifies_the_new_one_first(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, account_id="acct_1Acme")
    connection = _connect(workspace, admin, api_key=RK_TEST)
    with pytest.raises(ValidationError, match="did not accept"):
        connections.api_key_replace(connection=connection, actor=admin, api_key=RK_TEST_2)
    connection.refresh_from_db()
    assert crypto.decrypt(connection.api_key_encrypted) == RK_TEST

    fake_stripe.add_key(RK_TEST_2, account_id="acct_1Acme")
    connections.api_key_replace(connection=connection, actor=admin, api_key=RK_TEST_2)
    connection.refresh_from_db()
    assert crypto.decrypt(connection.api_key_encrypted) == RK_TEST_2
    assert connection.api_key_hint == "rk_test_…7Lmn"


def test_a_key_of_another_account_does_not_replace_the_key(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, account_id="acct_1Acme")
    fake_stripe.add_key(RK_TEST_2, account_id="acct_1Other")
    connection = _connect(workspace, admin, api_key=RK_TEST)
    with pytest.raises(ValidationError, match="belongs to Stripe account acct_1Other"):
        connections.api_key_replace(connection=connection, actor=admin, api_key=RK_TEST_2)


def test_a_live_key_cannot_replace_a_test_key(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST)
    connection = _connect(workspace, admin, api_key=RK_TEST)
    with pytest.raises(ValidationError, match="live-mode key"):
        connections.api_key_replace(connection=connection, actor=admin, api_key=RK_LIVE)
    assert fake_stripe.requests_to("/v1/account")[-1].api_key == RK_TEST


def test_verifying_the_key_again_refreshes_the_account_name(workspace, admin, fake_stripe):
    key = fake_stripe.add_key(RK_TEST, account_id="acct_1Acme", account_name="Old name")
    connection = _connect(workspace, admin, api_key=RK_TEST)
    key.account_name = "New name"
    connection = connections.connection_verify_key(connection=connection, actor=admin)
    assert connection.account_name == "New name"
    assert AuditEvent.objects.filter(action="stripe.key_verify").count() == 1


def test_create_endpoint_uses_exactly_the_processed_event_types(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, can_write_endpoints=True)
    connection = _connect(workspace, admin, api_key=RK_TEST)
    added = connections.connection_create_endpoint(connection=connection, actor=admin)
    request = fake_stripe.requests_to("/v1/webhook_endpoints")[0]
    params = request.params
    enabled = [value for name, value in params if name.startswith("enabled_events")]
    assert enabled == list(PROCESSED_EVENT_TYPES)
    assert dict(params)["url"] == connection.webhook_url()
    connection.refresh_from_db()
    assert connection.stripe_webhook_endpoint_id.startswith("we_")
    assert len(connections.webhook_secrets_active(connection=connection)) == 2
    assert added.hint.startswith("whsec_…")


def test_create_endpoint_without_write_permission_explains_it(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST, can_write_endpoints=False)
    connection = _connect(workspace, admin, api_key=RK_TEST)
    with pytest.raises(ValidationError, match="Webhook Endpoints: Write"):
        connections.connection_create_endpoint(connection=connection, actor=admin)
    connection.refresh_from_db()
    assert connection.stripe_webhook_endpoint_id == ""
    assert connection.webhook_secrets.count() == 1


def test_connecting_without_encryption_keys_is_refused(workspace, admin, settings):
    settings.CUSTORY_ENCRYPTION_KEYS = []
    crypto._fernet.cache_clear()
    try:
        with pytest.raises(crypto.EncryptionNotConfigured):
            _connect(workspace, admin)
    finally:
        crypto._fernet.cache_clear()
    assert not StripeConnection.objects.exists()


def test_no_secret_reaches_the_logs(workspace, admin, fake_stripe, caplog):
    caplog.set_level("DEBUG")
    with pytest.raises(ValidationError):
        _connect(workspace, admin, api_key=RK_TEST)
    fake_stripe.add_key(RK_TEST)
    _connect(workspace, admin, api_key=RK_TEST)
    assert RK_TEST not in caplog.text
    assert WHSEC_OLD not in caplog.text


def test_the_database_refuses_two_active_connections_to_one_account_and_mode(workspace):
    StripeConnectionFactory(workspace=workspace, account_id="acct_1Acme", livemode=False)
    StripeConnectionFactory(workspace=workspace, account_id="acct_1Acme", livemode=True)
    StripeConnectionFactory(
        workspace=workspace, account_id="acct_1Acme", status=ConnectionStatus.REVOKED
    )
    StripeConnectionFactory(workspace=workspace, account_id="")
    StripeConnectionFactory(workspace=workspace, account_id="")
    with pytest.raises(IntegrityError), transaction.atomic():
        StripeConnectionFactory(workspace=workspace, account_id="acct_1Acme", livemode=False)


def test_a_secret_no_key_decrypts_is_skipped_and_logged_without_its_value(workspace, admin, caplog):
    connection = _connect(workspace, admin)
    connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_NEW)
    stray = connection.webhook_secrets.get(hint="whsec_…AbCd")
    stray.secret_encrypted = Fernet(Fernet.generate_key()).encrypt(WHSEC_OLD.encode()).decode()
    stray.save()
    assert connections.webhook_secrets_active(connection=connection) == [WHSEC_NEW]
    assert "whsec_…AbCd" in caplog.text
    assert WHSEC_OLD not in caplog.text
