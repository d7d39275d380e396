"""Re-encrypt every stored secret (Stripe, outbound webhooks) with the newest encryption key.

Rotate like this: put the new key first in CUSTORY_ENCRYPTION_KEYS, keep the old ones after it,
run this command, then drop the old keys.
"""

from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing.models import StripeConnection, WebhookSecret
from custory import crypto
from custory.audit import audit_record
from custory.models import InboundWebhook, OutboundWebhook, Workspace


class Command(BaseCommand):
    help = "Re-encrypt every Stripe secret with the first (newest) key of CUSTORY_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        if not crypto.encryption_configured():
            raise CommandError("CUSTORY_ENCRYPTION_KEYS is not set; there is no key to rotate to.")
        per_workspace: Counter[int] = Counter()
        try:
            with transaction.atomic():
                keyed = StripeConnection.objects.select_for_update().exclude(api_key_encrypted="")
                for connection in keyed:
                    connection.api_key_encrypted = self._rotate(
                        connection.api_key_encrypted, f"the API key of connection {connection.uuid}"
                    )
                    connection.save(update_fields=["api_key_encrypted"])
                    per_workspace[connection.workspace_id] += 1
                secrets = WebhookSecret.objects.select_for_update().select_related("connection")
                for secret in secrets:
                    secret.secret_encrypted = self._rotate(
                        secret.secret_encrypted,
                        f"signing secret {secret.hint} of connection {secret.connection.uuid}",
                    )
                    secret.save(update_fields=["secret_encrypted"])
                    per_workspace[secret.connection.workspace_id] += 1
                for webhook in OutboundWebhook.objects.select_for_update().exclude(secrets=[]):
                    what = f"a signing secret of outbound webhook {webhook.uuid}"
                    webhook.secrets = [
                        {**entry, "secret": self._rotate(entry["secret"], what)}
                        for entry in webhook.secrets
                    ]
                    webhook.save(update_fields=["secrets"])
                    per_workspace[webhook.workspace_id] += len(webhook.secrets)
                for hook in InboundWebhook.objects.select_for_update().filter(revoked_at=None):
                    hook.secret_encrypted = self._rotate(
                        hook.secret_encrypted, f"the {hook.source} evidence webhook {hook.uuid}"
                    )
                    hook.save(update_fields=["secret_encrypted"])
                    per_workspace[hook.workspace_id] += 1
                for workspace in Workspace.objects.filter(pk__in=per_workspace):
                    audit_record(
                        workspace=workspace,
                        actor="manage.py encryption_rotate",
                        action="stripe.encryption_rotate",
                        data={"secrets": per_workspace[workspace.pk]},
                    )
        except crypto.InvalidToken as error:
            raise CommandError(f"{error} Nothing was changed.") from None
        total = sum(per_workspace.values())
        self.stdout.write(f"Re-encrypted {total} secret{'s' if total != 1 else ''}.")

    def _rotate(self, token: str, what: str) -> str:
        try:
            return crypto.reencrypt(token)
        except crypto.InvalidToken:
            raise crypto.InvalidToken(
                f"None of the configured keys decrypts {what}; add the key it was encrypted "
                "with to CUSTORY_ENCRYPTION_KEYS."
            ) from None
