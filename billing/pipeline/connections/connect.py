"""Connecting a Stripe account, verifying its key, and creating its webhook endpoint."""

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import (
    StripeConnection,
    WebhookSecret,
)
from billing.pipeline import stripe_api
from billing.pipeline.connections.rules import (
    MAX_ACTIVE_SECRETS,
    ConnectionRefused,
    actor_user,
    already_connected,
    api_key_for,
    check_mode,
    check_not_connected_twice,
    clean_api_key,
    clean_label,
    clean_webhook_secret,
    key_livemode,
    key_verify,
    locked_active,
    mode_name,
    require_active,
    require_encryption,
)
from billing.pipeline.connections.secrets import secret_insert
from billing.revenue_services import account_currency_record
from custory import crypto
from custory.audit import audit_record
from custory.models import Workspace

logger = logging.getLogger(__name__)


@sensitive_variables("webhook_secret", "api_key", "secret", "key")
def connection_create(
    *,
    workspace: Workspace,
    actor,
    webhook_secret: str,
    api_key: str = "",
    label: str = "",
    livemode: bool | None = None,
) -> StripeConnection:
    """Connect a Stripe account: store the signing secret (and verified restricted key) encrypted.

    `livemode` None means "as the key says" (test when there is no key), for the CLI.
    """
    require_encryption()
    errors: dict[str, list] = {}
    secret = key = ""
    try:
        secret = clean_webhook_secret(webhook_secret)
    except ValidationError as error:
        errors["webhook_secret"] = error.messages
    try:
        key = clean_api_key(api_key)
    except ValidationError as error:
        errors["api_key"] = error.messages
    try:
        label = clean_label(label)
    except ValidationError as error:
        errors["label"] = error.messages
    if errors:
        raise ValidationError(errors)
    if livemode is None:
        livemode = key_livemode(key) if key else False
    check_mode(livemode=livemode, api_key=key, label=label)
    account = key_verify(key) if key else None
    try:
        return _connection_insert(
            workspace=workspace,
            actor=actor,
            secret=secret,
            key=key,
            label=label,
            livemode=livemode,
            account=account,
        )
    except IntegrityError:
        raise already_connected(account.id if account else "", livemode) from None


@sensitive_variables("secret", "key")
@transaction.atomic
def _connection_insert(
    *,
    workspace: Workspace,
    actor,
    secret: str,
    key: str,
    label: str,
    livemode: bool,
    account: stripe_api.AccountInfo | None,
) -> StripeConnection:
    if account is not None:
        check_not_connected_twice(workspace=workspace, account_id=account.id, livemode=livemode)
    now = timezone.now()
    connection = StripeConnection.objects.create(
        workspace=workspace,
        label=label or f"Stripe {mode_name(livemode)}",
        livemode=livemode,
        account_id=account.id if account else "",
        account_name=account.name if account else "",
        api_key_encrypted=crypto.encrypt(key) if key else "",
        api_key_hint=crypto.mask(key) if key else "",
        api_key_verified_at=now if key else None,
        tracked_event_types=list(PROCESSED_EVENT_TYPES),
        connected_by=actor_user(actor),
        connected_at=now,
    )
    if account is not None:
        account_currency_record(workspace=workspace, currency=account.default_currency)
    WebhookSecret.objects.create(
        connection=connection,
        secret_encrypted=crypto.encrypt(secret),
        hint=crypto.mask(secret),
        created_at=now,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="stripe.connect",
        target=connection,
        data={
            "mode": mode_name(livemode),
            "account_id": connection.account_id,
            "webhook_secret": crypto.mask(secret),
            "api_key": connection.api_key_hint,
        },
    )
    return connection


def connection_verify_key(*, connection: StripeConnection, actor) -> StripeConnection:
    """Check the stored key against Stripe again and refresh the account's id and name."""
    require_active(connection)
    key = api_key_for(connection)
    if not key:
        raise ConnectionRefused("This connection has no API key to verify.", code="no_key")
    account = key_verify(key)
    if connection.account_id and account.id != connection.account_id:
        raise ConnectionRefused(
            f"The stored key now answers for account {account.id}, not {connection.account_id}.",
            code="account_changed",
        )
    with transaction.atomic():
        connection = locked_active(connection)
        connection.account_id = account.id
        connection.account_name = account.name
        connection.api_key_verified_at = timezone.now()
        connection.save(update_fields=["account_id", "account_name", "api_key_verified_at"])
        account_currency_record(workspace=connection.workspace, currency=account.default_currency)
        audit_record(
            workspace=connection.workspace,
            actor=actor,
            action="stripe.key_verify",
            target=connection,
            data={"account_id": account.id, "api_key": connection.api_key_hint},
        )
    return connection


def connection_create_endpoint(*, connection: StripeConnection, actor) -> WebhookSecret:
    """Create the webhook endpoint in Stripe with exactly our event types; store its secret."""
    require_encryption()
    require_active(connection)
    key = api_key_for(connection)
    if not key:
        raise ConnectionRefused(
            "Add a restricted API key with Webhook Endpoints: Write first.", code="no_key"
        )
    if connection.stripe_webhook_endpoint_id:
        raise ConnectionRefused(
            f"Custory already created endpoint {connection.stripe_webhook_endpoint_id} for "
            "this connection.",
            code="endpoint_exists",
        )
    if connection.webhook_secrets.filter(retired_at__isnull=True).count() >= MAX_ACTIVE_SECRETS:
        raise ConnectionRefused(
            "Retire one of the two signing secrets first: the new endpoint brings its own.",
            code="too_many_secrets",
        )
    try:
        endpoint = stripe_api.webhook_endpoint_create(
            api_key=key, url=connection.webhook_url(), enabled_events=list(PROCESSED_EVENT_TYPES)
        )
    except stripe_api.StripeAPIError as error:
        raise ConnectionRefused(error.message, code=error.kind) from None
    secret = clean_webhook_secret(endpoint.secret)
    with transaction.atomic():
        connection = locked_active(connection)
        added = secret_insert(connection=connection, secret=secret)
        connection.stripe_webhook_endpoint_id = endpoint.id
        connection.tracked_event_types = list(PROCESSED_EVENT_TYPES)
        connection.save(update_fields=["stripe_webhook_endpoint_id", "tracked_event_types"])
        audit_record(
            workspace=connection.workspace,
            actor=actor,
            action="stripe.endpoint_create",
            target=connection,
            data={"endpoint_id": endpoint.id, "webhook_secret": added.hint},
        )
    return added
