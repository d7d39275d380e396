"""Writes to follow-up tasks and task rules."""

from django.db import transaction

from custory.models import Workspace


@transaction.atomic
def task_rules_install_default(*, workspace: Workspace) -> None:
    """Give a new workspace the default task rules (built by the follow-up tasks issue)."""
