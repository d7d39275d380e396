"""The Django-Q job of a history import: run it for a while, then hand over to a fresh job."""

from django.conf import settings
from django_q.conf import Conf
from django_q.tasks import async_task

from billing.models import ImportStatus
from billing.pipeline.connections import IMPORT_JOB
from billing.pipeline.history.runner import HANDOVER, import_claim, import_run, new_owner

JOB = IMPORT_JOB


def history_import_run(import_id: int) -> str:
    """Claim the import and run it; queue the rest as a new job when its time is up, so no
    job outlives the cluster's timeout however long the history is."""
    owner = new_owner()
    if not import_claim(import_id=import_id, owner=owner):
        return "not claimed"
    # Hand over well before Django-Q's timeout kills the worker mid-page.
    seconds = min(getattr(settings, "CUSTORY_IMPORT_JOB_SECONDS", 60), (Conf.TIMEOUT or 120) / 2)
    outcome = import_run(import_id=import_id, owner=owner, seconds=seconds)
    if outcome == HANDOVER:
        async_task(JOB, import_id, task_name=f"history-import-{import_id}")
    return str(outcome or ImportStatus.DONE)
