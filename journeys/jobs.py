"""Django-Q2 entry points of journeys: re-placing a journey's signals after its rules changed."""

import logging
import time

from django.db import transaction
from django.utils import timezone

from billing.models import RevenueSignal
from journeys import services
from journeys.models import RemapRun, RemapStatus
from journeys.placement import journey_rules, signals_replace

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
# A job hands the rest of its run to a fresh job after this long, well inside the cluster timeout.
JOB_SECONDS = 60


def journey_remap_run(run_id: int) -> None:
    """Re-place a journey's signals in chunks, one transaction each, until done or superseded."""
    claimed = RemapRun.objects.filter(pk=run_id, status=RemapStatus.QUEUED).update(
        status=RemapStatus.RUNNING
    )
    if not claimed:
        return
    run = RemapRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    if not run.total:
        total = _signals(run).count()
        RemapRun.objects.filter(pk=run_id).update(total=total)
    started = time.monotonic()
    try:
        while remap_chunk(run_id=run_id):
            if time.monotonic() - started > JOB_SECONDS:
                _hand_over(run_id)
                return
    except Exception as error:
        logger.exception("Remap %s failed", run_id)
        RemapRun.objects.filter(pk=run_id, status=RemapStatus.RUNNING).update(
            status=RemapStatus.FAILED, last_error=str(error)[:2000], finished_at=timezone.now()
        )
        raise


def remap_chunk(*, run_id: int, size: int | None = None) -> bool:
    """Re-place the next chunk of signals; False when the run is finished or superseded."""
    with transaction.atomic():
        # The run row is locked for the chunk: a newer request marks it superseded either before
        # the chunk (which then stops) or after it commits, so a superseded run never moves a
        # signal under rules newer than the ones it read.
        run = RemapRun.objects.select_for_update().select_related("journey").filter(pk=run_id)
        run = run.first()
        if run is None or run.status != RemapStatus.RUNNING:  # None: the journey was deleted
            return False
        signals = list(
            _signals(run)
            .filter(pk__gt=run.cursor)
            .select_related("customer")
            .order_by("pk")[: size or CHUNK_SIZE]
        )
        if not signals:
            run.status = RemapStatus.DONE
            run.total = max(run.total, run.done)
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "total", "finished_at"])
            return False
        run.moved += signals_replace(
            journey=run.journey, signals=signals, rules=journey_rules(run.journey)
        )
        run.cursor = signals[-1].pk
        run.done += len(signals)
        run.total = max(run.total, run.done)
        run.save(update_fields=["moved", "cursor", "done", "total"])
        return True


def _signals(run: RemapRun):
    signals = RevenueSignal.objects.filter(workspace_id=run.workspace_id)
    return signals.filter(kind__in=run.kinds) if run.kinds else signals


def _hand_over(run_id: int) -> None:
    if RemapRun.objects.filter(pk=run_id, status=RemapStatus.RUNNING).update(
        status=RemapStatus.QUEUED
    ):
        services.remap_enqueue(run_id=run_id)
