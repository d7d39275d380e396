"""What admins paste, checked: key and secret shapes, modes, permissions; shared guards."""

import logging
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from billing.models import (
    ConnectionStatus,
    StripeConnection,
)
from billing.pipeline import stripe_api
from custory import crypto
from custory.models import Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Permission:
    resource: str
    access: str
    why: str


# What a restricted key needs, shown on the settings page (the "sk_ refused" message points there).
REQUIRED_PERMISSIONS: tuple[Permission, ...] = (
    Permission("Events", "Read", "import the last 30 days of events and find gaps"),
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


IMPORT_JOB = "billing.pipeline.history_jobs.history_import_run"


# Stripe keys are about 110 characters and signing secrets under 80; anything longer is a mistake.
MAX_SECRET_LENGTH = 255


MAX_LABEL_LENGTH = 100


# Stripe rolls a signing secret with an overlap: the old and the new one both verify for a while.
MAX_ACTIVE_SECRETS = 2


_RESTRICTED_KEY = re.compile(r"rk_(test|live)_[A-Za-z0-9]{16,240}")


_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{16,240}")


_ANY_API_KEY = re.compile(r"(sk|rk|pk)_(test|live)_\S*")


# Short: the permission table sits right above the field. A message, not a secret (S105).
SECRET_KEY_REFUSED = (
    "This is a full secret key (sk_…): it can move money, so Custory does not accept it. "  # noqa: S105
    "Create a restricted key (Stripe dashboard → Developers → API keys → Create restricted key) "
    "with the read permissions listed on the Stripe settings page, then paste the rk_… key here."
)


class ConnectionRefused(ValidationError):
    """An action that cannot be done on this connection in its current state."""


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


def mode_name(livemode: bool) -> str:
    return "live" if livemode else "test"


def check_mode(*, livemode: bool, api_key: str = "", label: str = "") -> None:
    """Refuse a key or a label that says the other mode than the connection's."""
    errors: dict[str, str] = {}
    if api_key and key_livemode(api_key) != livemode:
        key_mode = mode_name(key_livemode(api_key))
        errors["api_key"] = (
            f"This is a {key_mode}-mode key (rk_{key_mode}_…) but the connection is in "
            f"{mode_name(livemode)} mode. Test and live data are never mixed: use a "
            f"rk_{mode_name(livemode)}_… key, or choose {key_mode.capitalize()} mode."
        )
    words = set(re.findall(r"[a-z]+", label.lower()))
    other = mode_name(not livemode)
    if other in words and mode_name(livemode) not in words:
        errors["label"] = (
            f"The label says “{other}” but the connection is in {mode_name(livemode)} mode. "
            "Fix the label or the mode so nobody mistakes test data for live data."
        )
    if errors:
        raise ValidationError(errors, code="mode_mismatch")


def require_encryption() -> None:
    if not crypto.encryption_configured():
        raise crypto.EncryptionNotConfigured(
            "CUSTORY_ENCRYPTION_KEYS is not set, so Stripe secrets cannot be stored encrypted."
        )


def actor_user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def require_active(connection: StripeConnection) -> None:
    if connection.status != ConnectionStatus.ACTIVE:
        raise ConnectionRefused(
            "This connection was revoked; nothing more can be changed on it. Connect Stripe "
            "again to get a new connection.",
            code="revoked",
        )


def locked_active(connection: StripeConnection) -> StripeConnection:
    """Re-read the connection under a row lock, so revoke and other writes do not interleave."""
    locked = StripeConnection.objects.select_for_update().get(pk=connection.pk)
    require_active(locked)
    return locked


@sensitive_variables("api_key")
def key_verify(api_key: str) -> stripe_api.AccountInfo:
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


def already_connected(account_id: str, livemode: bool, label: str = "") -> ValidationError:
    named = f" as “{label}”" if label else ""
    return ValidationError(
        {
            "api_key": f"Stripe account {account_id} is already connected in "
            f"{mode_name(livemode)} mode{named}. Rotate that connection's secret or key "
            "instead of connecting it twice."
        },
        code="duplicate",
    )


def check_not_connected_twice(
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
        raise already_connected(account_id, livemode, twin.label)


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
