"""What Custory sends to outbound webhooks: the event types, and the data of each event.

Signals are announced by the processing path (one call per batch of new signals), tasks by the
task services, sync problems by the pipeline. Each event's data has a `title`, a one-line
`summary`, an absolute `url` back to the product and a few `fields` (the Slack format shows them).
"""

from billing.describe import signal_describe
from billing.models import RevenueSignal, SignalKind
from custory.models import Workspace
from custory.money import money_format
from custory.outbound import absolute_url, outbound_emit, outbound_wants
from tasks.models import FollowUpTask
from tasks.selectors import customer_label, default_steps_for_signals, step_label

TASK_EVENTS = {
    "task.created": "Task created",
    "task.assigned": "Task assigned",
    "task.closed": "Task closed",
}
SYNC_EVENTS = {
    "sync.event_failed": "Stripe event failed after retries",
    "sync.connection_revoked": "Stripe connection revoked",
}
ALERT_EVENTS = {
    "alert.fired": "Threshold alert fired",
    "alert.cleared": "Threshold alert cleared",
}


def event_type_choices() -> list[tuple[str, str]]:
    """Every event type an endpoint can subscribe to, with its label (settings names this)."""
    signals = [(f"signal.{kind}", f"Signal: {label}") for kind, label in SignalKind.choices]
    return [
        *signals,
        *TASK_EVENTS.items(),
        *SYNC_EVENTS.items(),
        *ALERT_EVENTS.items(),
    ]


def signals_announce(*, signals: list[RevenueSignal]) -> None:
    """Emit one `signal.<kind>` event per newly created signal, in the caller's transaction."""
    signals = [
        signal
        for signal in signals
        if outbound_wants(workspace_id=signal.workspace_id, type=f"signal.{signal.kind}")
    ]
    if not signals:
        return
    steps = default_steps_for_signals(signals)
    for signal in signals:
        step = steps.get(signal.id)
        amount = money_format(signal.amount, signal.currency) if signal.amount else ""
        outbound_emit(
            workspace=signal.workspace,
            type=f"signal.{signal.kind}",
            data={
                "title": f"{signal.get_kind_display()} — {customer_label(signal.customer)}",
                "summary": signal_describe(signal),
                "url": absolute_url(signal.get_absolute_url()),
                "signal": {
                    "id": str(signal.uuid),
                    "kind": signal.kind,
                    "occurred_at": signal.occurred_at.isoformat(),
                    "amount": signal.amount,
                    "currency": signal.currency,
                    "mrr_delta": signal.mrr_delta,
                    "livemode": signal.livemode,
                },
                "customer": _customer(signal),
                "step": step_label(step),
                "fields": {"Amount": amount, "Journey step": step_label(step)},
            },
        )


def _customer(signal: RevenueSignal) -> dict | None:
    customer = signal.customer
    if customer is None:
        return None
    return {
        "id": str(customer.uuid),
        "stripe_id": customer.stripe_id,
        "name": customer.name,
        "email": customer.email,
        "url": absolute_url(customer.get_absolute_url()),
    }


def task_announce(*, task: FollowUpTask, type: str) -> None:
    """Emit a task.created/assigned/closed event in the caller's transaction."""
    if not outbound_wants(workspace_id=task.workspace_id, type=type):
        return
    assignee = task.assignee.email if task.assignee_id else ""
    outbound_emit(
        workspace=task.workspace,
        type=type,
        data={
            "title": f"{TASK_EVENTS[type]}: {task.title}",
            "summary": task.context_label or task.title,
            "url": absolute_url(task.get_absolute_url()),
            "task": {
                "id": str(task.uuid),
                "title": task.title,
                "status": task.status,
                "priority": task.priority,
                "assignee": assignee,
                "due_date": task.due_date.isoformat() if task.due_date else None,
                "step": task.context_label,
            },
            "fields": {
                "Assignee": assignee or "nobody",
                "Priority": task.get_priority_display(),
                "Status": task.get_status_display(),
            },
        },
    )


def sync_problem_announce(
    *, workspace: Workspace, type: str, summary: str, url: str, details: dict
) -> None:
    """Emit a sync.* event (an event that failed for good, a revoked connection)."""
    outbound_emit(
        workspace=workspace,
        type=type,
        data={"title": SYNC_EVENTS[type], "summary": summary, "url": url, **details},
    )
