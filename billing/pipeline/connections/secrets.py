"""Rotating webhook signing secrets (with overlap) and replacing the restricted key."""

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from billing.models import (
    StripeConnection,
    WebhookSecret,
)
from billing.pipeline import stripe_api
from billing.pipeline.connections.rules import (
    MAX_ACTIVE_SECRETS,
    ConnectionRefused,
    already_connected,
    check_mode,
    check_not_connected_twice,
    clean_api_key,
    clean_webhook_secret,
    key_verify,
    locked_active,
    require_active,
    require_encryption,
)
from custory import crypto
from custory.audit import audit_record

logger = logging.getLogger(__name__)


def secret_insert(*, connection: StripeConnection, secret: str) -> WebhookSecret:
    """Store one more active secret on a locked connection (at most MAX_ACTIVE_SECRETS)."""
    active = list(connection.webhook_secrets.filter(retired_at__isnull=True))
    if any(crypto.decrypt(existing.secret_encrypted) == secret for existing in active):
        raise ValidationError(
            {"webhook_secret": "This signing secret is already saved on this connection."},
            code="duplicate",
        )
    if len(active) >= MAX_ACTIVE_SECRETS:
        raise ConnectionRefused(
            f"This connection already has {len(active)} signing secrets. Retire the older one "
            "(once Stripe has stopped using it) before adding another.",
            code="too_many_secrets",
        )
    return WebhookSecret.objects.create(
        connection=connection, secret_encrypted=crypto.encrypt(secret), hint=crypto.mask(secret)
    )


@sensitive_variables("webhook_secret", "secret")
def webhook_secret_add(
    *, connection: StripeConnection, actor, webhook_secret: str
) -> WebhookSecret:
    """Add a second signing secret; both verify until the old one is retired."""
    require_encryption()
    secret = clean_webhook_secret(webhook_secret)
    with transaction.atomic():
        connection = locked_active(connection)
        added = secret_insert(connection=connection, secret=secret)
        audit_record(
            workspace=connection.workspace,
            actor=actor,
            action="stripe.secret_add",
            target=connection,
            data={"webhook_secret": added.hint},
        )
    return added


def webhook_secret_retire(*, connection: StripeConnection, actor, secret_id: int) -> None:
    """Erase one signing secret; webhooks signed with it fail from now on."""
    with transaction.atomic():
        connection = locked_active(connection)
        active = list(connection.webhook_secrets.filter(retired_at__isnull=True))
        retiring = next((s for s in active if s.pk == secret_id), None)
        if retiring is None:
            raise ConnectionRefused("That signing secret is not on this connection.", code="gone")
        if len(active) == 1:
            raise ConnectionRefused(
                "This is the connection's only signing secret; without it no webhook would "
                "verify. Add the new secret first, or revoke the connection.",
                code="last_secret",
            )
        # Deleted rather than flagged: a retired secret must not stay readable in the database.
        retiring.delete()
        audit_record(
            workspace=connection.workspace,
            actor=actor,
            action="stripe.secret_retire",
            target=connection,
            data={"webhook_secret": retiring.hint},
        )


@sensitive_variables("api_key", "key")
def api_key_replace(*, connection: StripeConnection, actor, api_key: str) -> StripeConnection:
    """Verify a new restricted key against Stripe, then store it in place of the old one."""
    require_encryption()
    require_active(connection)
    key = clean_api_key(api_key, required=True)
    check_mode(livemode=connection.livemode, api_key=key)
    account = key_verify(key)
    if connection.account_id and account.id != connection.account_id:
        raise ValidationError(
            {
                "api_key": f"This key belongs to Stripe account {account.id}, but this "
                f"connection is for {connection.account_id}. Connect that account as a new "
                "connection instead."
            },
            code="other_account",
        )
    try:
        return _key_store(connection=connection, actor=actor, key=key, account=account)
    except IntegrityError:
        raise already_connected(account.id, connection.livemode) from None


@sensitive_variables("key")
@transaction.atomic
def _key_store(
    *, connection: StripeConnection, actor, key: str, account: stripe_api.AccountInfo
) -> StripeConnection:
    connection = locked_active(connection)
    check_not_connected_twice(
        workspace=connection.workspace,
        account_id=account.id,
        livemode=connection.livemode,
        exclude_pk=connection.pk,
    )
    old_hint = connection.api_key_hint
    connection.api_key_encrypted = crypto.encrypt(key)
    connection.api_key_hint = crypto.mask(key)
    connection.api_key_verified_at = timezone.now()
    connection.account_id = account.id
    connection.account_name = account.name
    connection.save(
        update_fields=[
            "api_key_encrypted",
            "api_key_hint",
            "api_key_verified_at",
            "account_id",
            "account_name",
        ]
    )
    audit_record(
        workspace=connection.workspace,
        actor=actor,
        action="stripe.key_replace",
        target=connection,
        data={"old_api_key": old_hint, "api_key": connection.api_key_hint},
    )
    return connection
