"""The operator commands: stripe_connect, stripe_revoke and encryption_rotate."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from billing.models import ConnectionStatus, StripeConnection, StripeEvent, WebhookSecret
from billing.pipeline import connections
from custory import crypto
from custory.models import AuditEvent
from tests.factories import StripeEventFactory
from tests.stripe_fake import RK_TEST, WHSEC_NEW, WHSEC_OLD, serve_fake_stripe

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_stripe(settings):
    yield from serve_fake_stripe(settings)


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_stripe_connect_prints_the_webhook_url(workspace):
    out = _run("stripe_connect", workspace.slug, "--webhook-secret", WHSEC_OLD, "--label", "CLI")
    connection = StripeConnection.objects.get()
    assert out.strip() == connection.webhook_url()
    assert connection.label == "CLI"
    assert WHSEC_OLD not in out
    audit = AuditEvent.objects.get(action="stripe.connect")
    assert audit.actor is None and audit.actor_label == "manage.py stripe_connect"


def test_stripe_connect_verifies_an_api_key(workspace, fake_stripe):
    fake_stripe.add_key(RK_TEST, account_id="acct_1Cli")
    _run("stripe_connect", workspace.slug, "--webhook-secret", WHSEC_OLD, "--api-key", RK_TEST)
    assert StripeConnection.objects.get().account_id == "acct_1Cli"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--webhook-secret", WHSEC_OLD], "No workspace with the slug"),
        (["acme", "--webhook-secret", "whsec_bad value"], "--webhook-secret: This does not look"),
        (["acme", "--webhook-secret", ""], "Paste the webhook signing secret"),
        (
            [
                "acme",
                "--webhook-secret",
                WHSEC_OLD,
                "--api-key",
                "sk_test_51AcmeFullSecret00000000",
            ],
            "--api-key: This is a full secret key",
        ),
        (
            ["acme", "--webhook-secret", WHSEC_OLD, "--api-key", RK_TEST],
            "did not accept this API key",
        ),
        (
            ["acme", "--webhook-secret", WHSEC_OLD, "--label", "Acme live"],
            "says “live”",
        ),
    ],
)
def test_stripe_connect_refuses_bad_input(workspace, fake_stripe, args, message):
    with pytest.raises(CommandError, match=message):
        _run("stripe_connect", *args)
    assert not StripeConnection.objects.exists()


def test_stripe_connect_exits_non_zero_with_the_message_on_stderr(workspace, capsys):
    with pytest.raises(SystemExit) as exit_info:
        from django.core.management import ManagementUtility

        ManagementUtility(
            ["manage.py", "stripe_connect", workspace.slug, "--webhook-secret", "pk_test_x"]
        ).execute()
    assert exit_info.value.code != 0
    assert "not a webhook signing secret" in capsys.readouterr().err


def test_stripe_revoke_revokes_and_optionally_deletes(workspace, admin):
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, label="Main"
    )
    StripeEventFactory(workspace=workspace, connection=connection)
    out = _run("stripe_revoke", workspace.slug, "--delete-data")
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.REVOKED
    assert "410 Gone" in out and "Deleted 1 events" in out
    assert not StripeEvent.objects.exists()
    assert not WebhookSecret.objects.exists()


def test_stripe_revoke_needs_a_label_when_there_are_several(workspace, admin):
    for label, secret in (("EU", WHSEC_OLD), ("US", WHSEC_NEW)):
        connections.connection_create(
            workspace=workspace, actor=admin, webhook_secret=secret, label=label
        )
    with pytest.raises(CommandError, match="choose one with --label: “EU” \\(test\\), “US”"):
        _run("stripe_revoke", workspace.slug)
    _run("stripe_revoke", workspace.slug, "--label", "US")
    statuses = dict(StripeConnection.objects.values_list("label", "status"))
    assert statuses == {"EU": ConnectionStatus.ACTIVE, "US": ConnectionStatus.REVOKED}


def test_stripe_revoke_refuses_when_nothing_matches(workspace):
    with pytest.raises(CommandError, match="no active connection"):
        _run("stripe_revoke", workspace.slug)
    with pytest.raises(CommandError, match="No workspace"):
        _run("stripe_revoke", "missing")


def test_encryption_rotate_reencrypts_every_secret_with_the_newest_key(
    workspace, admin, fake_stripe, settings
):
    fake_stripe.add_key(RK_TEST)
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    old_key = settings.CUSTORY_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.CUSTORY_ENCRYPTION_KEYS = [new_key, old_key]
    crypto._fernet.cache_clear()
    try:
        out = _run("encryption_rotate")
        assert "Re-encrypted 2 secrets" in out
        connection.refresh_from_db()
        settings.CUSTORY_ENCRYPTION_KEYS = [new_key]
        crypto._fernet.cache_clear()
        assert crypto.decrypt(connection.api_key_encrypted) == RK_TEST
        assert connections.webhook_secrets_active(connection=connection) == [WHSEC_OLD]
        assert AuditEvent.objects.filter(action="stripe.encryption_rotate").count() == 1
    finally:
        crypto._fernet.cache_clear()


def test_encryption_rotate_changes_nothing_when_a_key_is_missing(workspace, admin, settings):
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD
    )
    before = connection.webhook_secrets.get().secret_encrypted
    settings.CUSTORY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    crypto._fernet.cache_clear()
    try:
        with pytest.raises(CommandError, match="None of the configured keys decrypts"):
            _run("encryption_rotate")
    finally:
        crypto._fernet.cache_clear()
    assert connection.webhook_secrets.get().secret_encrypted == before


def test_stripe_connect_without_encryption_keys_says_what_to_set(workspace, settings):
    settings.CUSTORY_ENCRYPTION_KEYS = []
    crypto._fernet.cache_clear()
    try:
        with pytest.raises(CommandError, match="CUSTORY_ENCRYPTION_KEYS is not set"):
            _run("stripe_connect", workspace.slug, "--webhook-secret", WHSEC_OLD)
    finally:
        crypto._fernet.cache_clear()
    assert not StripeConnection.objects.exists()
