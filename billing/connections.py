"""Connecting Stripe to a workspace: validating what admins paste, and the audited writes.

Services are keyword-only and each is one transaction that writes its AuditEvent. Calls to the
Stripe API happen before the transaction opens, so a slow Stripe never holds a database lock.
Secrets are encrypted before they touch the database and only their masked hint is ever shown
or audited. Bad input raises ValidationError (a dict keyed by form field where one applies).
"""

import logging
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from billing import crypto, stripe_api
from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import (
    STRIPE_EVENT_RETENTION,
    ConnectionStatus,
    Customer,
    EventStatus,
    HistoryImport,
    ImportStatus,
    RevenueSignal,
    StripeConnection,
    StripeEvent,
    Subscription,
    WebhookSecret,
)
from custory.audit import audit_record
from custory.models import Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Permission:
    resource: str
    access: str
    why: str


# What a restricted key needs, shown on the settings page and in the "sk_ refused" message.
REQUIRED_PERMISSIONS: tuple[Permission, ...] = (
    Permission("Events", "Read", "import the last 30 days of history"),
    Permission("Customers", "Read", "know who each signal is about"),
    Permission("Subscriptions", "Read", "see plan changes, trials and cancellations"),
    Permission("Invoices", "Read", "see failed and recovered payments"),
    Permission("Charges and Refunds", "Read", "see payments and refunds"),
    Permission("Disputes", "Read", "see disputes opened and closed"),
    Permission("Checkout Sessions", "Read", "see completed and abandoned checkouts"),
    Permission("Prices and Products", "Read", "name the plan a customer is on"),
    Permission("Account information", "Read", "confirm which Stripe account the key is for"),
)
OPTIONAL_PERMISSION = Permission(
    "Webhook Endpoints",
    "Write",
    "only if you want Custory to create the webhook endpoint for you; leave it off otherwise",
)

IMPORT_JOB = "billing.jobs_import.history_import_run"

# Stripe keys are about 110 characters and signing secrets under 80; anything longer is a mistake.
MAX_SECRET_LENGTH = 255
MAX_LABEL_LENGTH = 100
# Stripe rolls a signing secret with an overlap: the old and the new one both verify for a while.
MAX_ACTIVE_SECRETS = 2

_RESTRICTED_KEY = re.compile(r"rk_(test|live)_[A-Za-z0-9]{16,240}")
_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{16,240}")
_ANY_API_KEY = re.compile(r"(sk|rk|pk)_(test|live)_\S*")

_PERMISSION_SENTENCE = "; ".join(
    f"{p.resource}: {p.access} (to {p.why})" for p in REQUIRED_PERMISSIONS
)
SECRET_KEY_REFUSED = (
    "This is a full secret key (sk_…). It can do anything in your Stripe account, including "
    "moving money, so Custory does not accept it. Create a restricted key instead: in the Stripe "
    "dashboard open Developers → API keys → Create restricted key, and give it read-only access "
    f"to: {_PERMISSION_SENTENCE}. Add {OPTIONAL_PERMISSION.resource}: "
    f"{OPTIONAL_PERMISSION.access} {OPTIONAL_PERMISSION.why}. Then paste the rk_… key here."
)


class ConnectionRefused(ValidationError):
    """An action that cannot be done on this connection in its current state."""


# ---------------------------------------------------------------------------------------------
# Validation of pasted values


def _trimmed(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_SECRET_LENGTH:
        raise ValidationError(
            f"That is {len(value):,} characters long; a Stripe {what} is much shorter. "
            f"Paste only the {what}.",
            code="too_long",
        )
    return value


@sensitive_variables("value")
def clean_webhook_secret(value: str | None) -> str:
    """Return the trimmed signing secret, or raise ValidationError saying what is wrong."""
    value = _trimmed(value, "webhook signing secret")
    if not value:
        raise ValidationError(
            "Paste the webhook signing secret. It starts with whsec_ and is shown on the "
            "endpoint's page in Stripe (Developers → Webhooks), or printed by `stripe listen`.",
            code="required",
        )
    if _ANY_API_KEY.fullmatch(value):
        raise ValidationError(
            "That is an API key, not a webhook signing secret. The signing secret starts with "
            "whsec_ and is shown on the webhook endpoint's page in Stripe.",
            code="api_key_as_secret",
        )
    if not _WEBHOOK_SECRET.fullmatch(value):
        raise ValidationError(
            "This does not look like a webhook signing secret: it should be whsec_ followed by "
            "letters and digits, with no spaces. Copy it again with Stripe's “Reveal” button.",
            code="malformed",
        )
    return value


@sensitive_variables("value")
def clean_api_key(value: str | None, *, required: bool = False) -> str:
    """Return the trimmed restricted key ('' when none was given and none is required)."""
    value = _trimmed(value, "API key")
    if not value:
        if required:
            raise ValidationError(
                "Paste the restricted API key (it starts with rk_test_ or rk_live_).",
                code="required",
            )
        return ""
    if value.startswith(("sk_test_", "sk_live_")):
        raise ValidationError(SECRET_KEY_REFUSED, code="secret_key")
    if value.startswith(("pk_test_", "pk_live_")):
        raise ValidationError(
            "This is a publishable key (pk_…). It is meant for web pages and cannot read your "
            "billing data. Create a restricted key (rk_…) with the read permissions listed on "
            "this page, and paste that instead.",
            code="publishable_key",
        )
    if value.startswith("whsec_"):
        raise ValidationError(
            "That is a webhook signing secret, not an API key: paste it in the webhook signing "
            "secret field. This field takes a restricted key (rk_test_… or rk_live_…).",
            code="secret_as_api_key",
        )
    if not _RESTRICTED_KEY.fullmatch(value):
        raise ValidationError(
            "This does not look like a restricted API key: it should start with rk_test_ or "
            "rk_live_, followed by letters and digits, with no spaces.",
            code="malformed",
        )
    return value


def clean_label(value: str | None) -> str:
    value = " ".join((value or "").split())
    if len(value) > MAX_LABEL_LENGTH:
        raise ValidationError(
            f"Keep the label under {MAX_LABEL_LENGTH} characters (it has {len(value):,}).",
            code="too_long",
        )
    return value


def key_livemode(api_key: str) -> bool:
    return api_key.startswith("rk_live_")


def _mode_name(livemode: bool) -> str:
    return "live" if livemode else "test"


def check_mode(*, livemode: bool, api_key: str = "", label: str = "") -> None:
    """Refuse a key or a label that says the other mode than the connection's."""
    errors: dict[str, str] = {}
    if api_key and key_livemode(api_key) != livemode:
        key_mode = _mode_name(key_livemode(api_key))
        errors["api_key"] = (
            f"This is a {key_mode}-mode key (rk_{key_mode}_…) but the connection is in "
            f"{_mode_name(livemode)} mode. Test and live data are never mixed: use a "
            f"rk_{_mode_name(livemode)}_… key, or choose {key_mode.capitalize()} mode."
        )
    words = set(re.findall(r"[a-z]+", label.lower()))
    other = _mode_name(not livemode)
    if other in words and _mode_name(livemode) not in words:
        errors["label"] = (
            f"The label says “{other}” but the connection is in {_mode_name(livemode)} mode. "
            "Fix the label or the mode so nobody mistakes test data for live data."
        )
    if errors:
        raise ValidationError(errors, code="mode_mismatch")


def _require_encryption() -> None:
    if not crypto.encryption_configured():
        raise crypto.EncryptionNotConfigured(
            "CUSTORY_ENCRYPTION_KEYS is not set, so Stripe secrets cannot be stored encrypted."
        )


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _require_active(connection: StripeConnection) -> None:
    if connection.status != ConnectionStatus.ACTIVE:
        raise ConnectionRefused(
            "This connection was revoked; nothing more can be changed on it. Connect Stripe "
            "again to get a new connection.",
            code="revoked",
        )


def _locked(connection: StripeConnection) -> StripeConnection:
    """Re-read the connection under a row lock, so revoke and other writes do not interleave."""
    locked = StripeConnection.objects.select_for_update().get(pk=connection.pk)
    _require_active(locked)
    return locked


@sensitive_variables("api_key")
def _verify(api_key: str) -> stripe_api.AccountInfo:
    try:
        account = stripe_api.account_retrieve(api_key=api_key)
    except stripe_api.StripeAPIError as error:
        raise ValidationError({"api_key": error.message}, code=error.kind) from None
    if account.livemode is not None and account.livemode != key_livemode(api_key):
        raise ValidationError(
            {"api_key": "Stripe reports a different mode for this key than its prefix says."},
            code="mode_mismatch",
        )
    return account


def _already_connected(account_id: str, livemode: bool, label: str = "") -> ValidationError:
    named = f" as “{label}”" if label else ""
    return ValidationError(
        {
            "api_key": f"Stripe account {account_id} is already connected in "
            f"{_mode_name(livemode)} mode{named}. Rotate that connection's secret or key "
            "instead of connecting it twice."
        },
        code="duplicate",
    )


def _check_not_connected_twice(
    *, workspace: Workspace, account_id: str, livemode: bool, exclude_pk: int | None = None
) -> None:
    # A friendly early refusal; billing_connection_one_active_per_account guarantees it.
    if not account_id:
        return
    twin = (
        StripeConnection.objects.for_workspace(workspace)
        .active()
        .filter(account_id=account_id, livemode=livemode)
        .exclude(pk=exclude_pk)
        .first()
    )
    if twin is not None:
        raise _already_connected(account_id, livemode, twin.label)


# ---------------------------------------------------------------------------------------------
# Reads


def webhook_secrets_active(*, connection: StripeConnection) -> list[str]:
    """The signing secrets that verify this connection's webhooks, decrypted, oldest first."""
    if connection.status != ConnectionStatus.ACTIVE:
        return []
    secrets = []
    for secret in connection.webhook_secrets.filter(retired_at__isnull=True):
        try:
            secrets.append(crypto.decrypt(secret.secret_encrypted))
        except crypto.InvalidToken:
            # A key was dropped from CUSTORY_ENCRYPTION_KEYS too early; say which secret, not more.
            logger.error(
                "Signing secret %s of connection %s cannot be decrypted with the configured keys.",
                secret.hint,
                connection.uuid,
            )
    return secrets


def api_key_for(connection: StripeConnection) -> str:
    """The decrypted restricted key, or '' when the connection has none (or was revoked)."""
    if connection.status != ConnectionStatus.ACTIVE or not connection.api_key_encrypted:
        return ""
    return crypto.decrypt(connection.api_key_encrypted)


# ---------------------------------------------------------------------------------------------
# Writes


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
    _require_encryption()
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
    account = _verify(key) if key else None
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
        raise _already_connected(account.id if account else "", livemode) from None


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
        _check_not_connected_twice(workspace=workspace, account_id=account.id, livemode=livemode)
    now = timezone.now()
    connection = StripeConnection.objects.create(
        workspace=workspace,
        label=label or f"Stripe {_mode_name(livemode)}",
        livemode=livemode,
        account_id=account.id if account else "",
        account_name=account.name if account else "",
        api_key_encrypted=crypto.encrypt(key) if key else "",
        api_key_hint=crypto.mask(key) if key else "",
        api_key_verified_at=now if key else None,
        tracked_event_types=list(PROCESSED_EVENT_TYPES),
        connected_by=_user(actor),
        connected_at=now,
    )
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
            "mode": _mode_name(livemode),
            "account_id": connection.account_id,
            "webhook_secret": crypto.mask(secret),
            "api_key": connection.api_key_hint,
        },
    )
    return connection


def connection_verify_key(*, connection: StripeConnection, actor) -> StripeConnection:
    """Check the stored key against Stripe again and refresh the account's id and name."""
    _require_active(connection)
    key = api_key_for(connection)
    if not key:
        raise ConnectionRefused("This connection has no API key to verify.", code="no_key")
    account = _verify(key)
    if connection.account_id and account.id != connection.account_id:
        raise ConnectionRefused(
            f"The stored key now answers for account {account.id}, not {connection.account_id}.",
            code="account_changed",
        )
    with transaction.atomic():
        connection = _locked(connection)
        connection.account_id = account.id
        connection.account_name = account.name
        connection.api_key_verified_at = timezone.now()
        connection.save(update_fields=["account_id", "account_name", "api_key_verified_at"])
        audit_record(
            workspace=connection.workspace,
            actor=actor,
            action="stripe.key_verify",
            target=connection,
            data={"account_id": account.id, "api_key": connection.api_key_hint},
        )
    return connection


def _add_secret(*, connection: StripeConnection, secret: str) -> WebhookSecret:
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
    _require_encryption()
    secret = clean_webhook_secret(webhook_secret)
    with transaction.atomic():
        connection = _locked(connection)
        added = _add_secret(connection=connection, secret=secret)
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
        connection = _locked(connection)
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
    _require_encryption()
    _require_active(connection)
    key = clean_api_key(api_key, required=True)
    check_mode(livemode=connection.livemode, api_key=key)
    account = _verify(key)
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
        raise _already_connected(account.id, connection.livemode) from None


@sensitive_variables("key")
@transaction.atomic
def _key_store(
    *, connection: StripeConnection, actor, key: str, account: stripe_api.AccountInfo
) -> StripeConnection:
    connection = _locked(connection)
    _check_not_connected_twice(
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


def connection_create_endpoint(*, connection: StripeConnection, actor) -> WebhookSecret:
    """Create the webhook endpoint in Stripe with exactly our event types; store its secret."""
    _require_encryption()
    _require_active(connection)
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
        connection = _locked(connection)
        added = _add_secret(connection=connection, secret=secret)
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


@dataclass(frozen=True)
class RevokeResult:
    secrets_erased: int
    imports_canceled: int
    events_ignored: int
    purged: dict[str, int] | None


def _purge(connection: StripeConnection) -> dict[str, int]:
    """Delete the data that came from this connection, and nothing else."""
    from journeys.models import StepDailyRollup

    workspace = connection.workspace
    rollups, _ = StepDailyRollup.objects.filter(workspace=workspace, connection=connection).delete()
    signals = RevenueSignal.objects.filter(workspace=workspace).filter(
        Q(connection=connection) | Q(event__connection=connection)
    )
    _, signal_counts = signals.delete()
    subscriptions = Subscription.objects.filter(
        workspace=workspace, customer__connection=connection
    ).count()
    _, customer_counts = Customer.objects.filter(
        workspace=workspace, connection=connection
    ).delete()
    _, event_counts = StripeEvent.objects.filter(
        workspace=workspace, connection=connection
    ).delete()
    return {
        "events": event_counts.get(StripeEvent._meta.label, 0),
        "signals": signal_counts.get(RevenueSignal._meta.label, 0)
        + event_counts.get(RevenueSignal._meta.label, 0),
        "customers": customer_counts.get(Customer._meta.label, 0),
        "subscriptions": subscriptions,
        "rollups": rollups,
    }


def connection_revoke(
    *, connection: StripeConnection, actor, delete_data: bool = False
) -> RevokeResult:
    """Revoke at once: erase the secrets, stop imports and queued work, optionally purge data."""
    with transaction.atomic():
        connection = _locked(connection)
        now = timezone.now()
        secrets_erased, _ = connection.webhook_secrets.all().delete()
        had_key = bool(connection.api_key_encrypted)
        connection.status = ConnectionStatus.REVOKED
        connection.api_key_encrypted = ""
        connection.revoked_by = _user(actor)
        connection.revoked_at = now
        connection.save(update_fields=["status", "api_key_encrypted", "revoked_by", "revoked_at"])
        imports_canceled = HistoryImport.objects.filter(
            connection=connection, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
        ).update(
            status=ImportStatus.CANCELED,
            finished_at=now,
            last_error="Stopped because the Stripe connection was revoked.",
        )
        # Queued jobs find their events ignored and do nothing.
        events_ignored = StripeEvent.objects.filter(
            workspace=connection.workspace,
            connection=connection,
            status__in=[EventStatus.PENDING, EventStatus.PROCESSING, EventStatus.FAILED],
        ).update(status=EventStatus.IGNORED, last_error="connection revoked", next_attempt_at=None)
        audit_record(
            workspace=connection.workspace,
            actor=actor,
            action="stripe.revoke",
            target=connection,
            data={
                "mode": connection.mode_label,
                "account_id": connection.account_id,
                "secrets_erased": secrets_erased,
                "api_key_erased": had_key,
                "imports_canceled": imports_canceled,
                "events_ignored": events_ignored,
                "delete_data": delete_data,
            },
        )
        purged = None
        if delete_data:
            purged = _purge(connection)
            audit_record(
                workspace=connection.workspace,
                actor=actor,
                action="stripe.purge",
                target=connection,
                data=purged,
            )
    return RevokeResult(
        secrets_erased=secrets_erased,
        imports_canceled=imports_canceled,
        events_ignored=events_ignored,
        purged=purged,
    )


def history_import_start(*, connection: StripeConnection, actor) -> HistoryImport:
    """Queue an import of the last 30 days of events; one at a time per connection."""
    from django_q.tasks import async_task

    _require_active(connection)
    if not connection.api_key_encrypted:
        raise ConnectionRefused(
            "Importing history needs a restricted API key with Events: Read. Add one first.",
            code="no_key",
        )
    try:
        with transaction.atomic():
            connection = _locked(connection)
            history_import = HistoryImport.objects.create(
                workspace=connection.workspace,
                connection=connection,
                since=timezone.now() - STRIPE_EVENT_RETENTION,
                started_by=_user(actor),
            )
            audit_record(
                workspace=connection.workspace,
                actor=actor,
                action="stripe.import_start",
                target=connection,
                data={"import_id": history_import.pk, "since": history_import.since.isoformat()},
            )
            transaction.on_commit(
                lambda: async_task(
                    IMPORT_JOB,
                    history_import.pk,
                    task_name=f"history-import-{history_import.pk}",
                )
            )
    except IntegrityError:
        raise ConnectionRefused(
            "An import is already running for this connection; wait for it to finish.",
            code="import_running",
        ) from None
    return history_import


def history_import_cancel(*, history_import: HistoryImport, actor) -> bool:
    """Stop a queued or running import after its current page; False if it had already ended."""
    with transaction.atomic():
        canceled = HistoryImport.objects.filter(
            pk=history_import.pk, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
        ).update(
            status=ImportStatus.CANCELED,
            finished_at=timezone.now(),
            last_error="Canceled by an admin.",
        )
        if canceled:
            audit_record(
                workspace=history_import.workspace,
                actor=actor,
                action="stripe.import_cancel",
                target=history_import.connection,
                data={"import_id": history_import.pk},
            )
    return bool(canceled)
