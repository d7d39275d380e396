"""Connecting Stripe to a workspace: validating what admins paste, and the audited writes.

Services are keyword-only and each is one transaction that writes its AuditEvent. Calls to the
Stripe API happen before the transaction opens, so a slow Stripe never holds a database lock.
Secrets are encrypted before they touch the database and only their masked hint is ever shown
or audited. Bad input raises ValidationError (a dict keyed by form field where one applies).
"""

from billing.pipeline.connections.connect import (
    connection_create,
    connection_create_endpoint,
    connection_verify_key,
)
from billing.pipeline.connections.history import (
    history_import_cancel,
    history_import_resume,
    history_import_start,
)
from billing.pipeline.connections.revoke import RevokeResult, connection_revoke
from billing.pipeline.connections.rules import (
    IMPORT_JOB,
    MAX_ACTIVE_SECRETS,
    MAX_LABEL_LENGTH,
    MAX_SECRET_LENGTH,
    OPTIONAL_PERMISSION,
    REQUIRED_PERMISSIONS,
    SECRET_KEY_REFUSED,
    ConnectionRefused,
    Permission,
    api_key_for,
    check_mode,
    clean_api_key,
    clean_label,
    clean_webhook_secret,
    key_livemode,
    webhook_secrets_active,
)
from billing.pipeline.connections.secrets import (
    api_key_replace,
    webhook_secret_add,
    webhook_secret_retire,
)

__all__ = [
    "IMPORT_JOB",
    "MAX_ACTIVE_SECRETS",
    "MAX_LABEL_LENGTH",
    "MAX_SECRET_LENGTH",
    "OPTIONAL_PERMISSION",
    "REQUIRED_PERMISSIONS",
    "SECRET_KEY_REFUSED",
    "ConnectionRefused",
    "Permission",
    "RevokeResult",
    "api_key_for",
    "api_key_replace",
    "check_mode",
    "clean_api_key",
    "clean_label",
    "clean_webhook_secret",
    "connection_create",
    "connection_create_endpoint",
    "connection_revoke",
    "connection_verify_key",
    "history_import_cancel",
    "history_import_resume",
    "history_import_start",
    "key_livemode",
    "webhook_secret_add",
    "webhook_secret_retire",
    "webhook_secrets_active",
]
