"""Task rules as the processing job runs them: conditions, windows, dedupe, round-robin,
auto-closing, annotations and firing once per signal."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from billing.models import SignalKind as K
from custory.models import AuditEvent, Role
from custory.services import workspace_create
from journeys.models import Step
from journeys.placement import place_signals
from tasks.automation import task_rules_apply
from tasks.models import FollowUpTask, TaskComment, TaskRule, TaskSignal, TaskStatus
from tasks.services import task_rules_install_default
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    RevenueSignalFactory,
    TaskRuleFactory,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    """Tests run a few days after T0, whatever the wall clock says."""
    with time_machine.travel(T0 + timedelta(days=3), tick=False) as traveller:
        yield traveller


def rule_for(workspace, **fields):
    fields.setdefault("kinds", [K.PAYMENT_FAILED])
    fields.setdefault("title_template", "Follow up: {kind} — {customer} ({amount})")
    return TaskRuleFactory(workspace=workspace, **fields)


def test_a_matching_signal_opens_a_task_with_its_journey_context(workspace, customer, process):
    rule = rule_for(workspace, description_template="{customer} at {step}: {link}", due_in_days=2)
    with time_machine.travel(T0, tick=False):
        signal = process(K.PAYMENT_FAILED, customer, amount=4900)
    task = FollowUpTask.objects.get(rule=rule)
    assert task.title == "Follow up: failed payment — Acme Inc (€49.00)"
    assert task.signal == signal
    assert task.customer == customer
    assert task.step.name == "Recurring payment"
    assert task.context_label == "SaaS customer journey › Pay & retain › Recurring payment"
    assert task.description.startswith("Acme Inc at Pay & retain › Recurring payment: http")
    assert task.description.endswith(f"/w/acme/signals/{signal.uuid}/")
    assert task.due_date == (T0 + timedelta(days=2)).date()
    assert TaskSignal.objects.filter(task=task, signal=signal, rule=rule).exists()
    assert AuditEvent.objects.filter(action="task.create", target_id=str(task.uuid)).exists()


def test_signals_of_other_kinds_open_nothing(workspace, customer, process):
    rule_for(workspace)
    process(K.PAYMENT_SUCCEEDED, customer)
    process(K.REFUND, customer)
    assert not FollowUpTask.objects.exists()


def test_a_disabled_rule_opens_nothing(workspace, customer, process):
    rule_for(workspace, enabled=False)
    process(K.PAYMENT_FAILED, customer)
    assert not FollowUpTask.objects.exists()


def test_rules_of_another_workspace_never_see_this_workspaces_signals(
    workspace, other_workspace, customer, process
):
    rule_for(other_workspace)
    process(K.PAYMENT_FAILED, customer)
    assert not FollowUpTask.objects.exists()


@pytest.mark.parametrize(
    ("amount", "currency", "opens"),
    [(10_000, "eur", True), (9_999, "eur", False), (10_000, "usd", False), (None, "eur", False)],
)
def test_the_amount_condition_compares_minor_units_in_its_currency(
    workspace, customer, process, amount, currency, opens
):
    rule_for(workspace, conditions={"amount_min": 10_000, "currency": "eur"})
    process(K.PAYMENT_FAILED, customer, amount=amount, currency=currency)
    assert FollowUpTask.objects.exists() is opens


@pytest.mark.parametrize(("mrr", "opens"), [(25_000, True), (24_999, False)])
def test_the_customer_mrr_condition(workspace, process, mrr, opens):
    customer = CustomerFactory(workspace=workspace, mrr=mrr, currency="eur")
    rule_for(
        workspace,
        kinds=[K.CANCELLATION_SCHEDULED],
        conditions={"mrr_min": 25_000, "currency": "eur"},
    )
    process(K.CANCELLATION_SCHEDULED, customer, amount=None)
    assert FollowUpTask.objects.exists() is opens


def test_the_mrr_condition_uses_the_mrr_a_signal_took_away(workspace, process):
    customer = CustomerFactory(workspace=workspace, mrr=0, currency="eur")
    rule_for(
        workspace,
        kinds=[K.SUBSCRIPTION_CANCELED],
        conditions={"mrr_min": 25_000, "currency": "eur"},
    )
    process(K.SUBSCRIPTION_CANCELED, customer, details={"previous_mrr": 30_000})
    assert FollowUpTask.objects.count() == 1


def test_the_step_condition_matches_where_the_signal_was_placed(workspace, customer, process):
    recurring = Step.objects.get(workspace=workspace, name="Recurring payment")
    checkout = Step.objects.get(workspace=workspace, name="Checkout")
    on_recurring = rule_for(workspace, conditions={"step": str(recurring.uuid)})
    on_checkout = rule_for(workspace, conditions={"step": str(checkout.uuid)})
    process(K.PAYMENT_FAILED, customer)
    assert FollowUpTask.objects.filter(rule=on_recurring).count() == 1
    assert not FollowUpTask.objects.filter(rule=on_checkout).exists()


def test_a_repeat_condition_waits_for_the_nth_signal_within_the_window(
    workspace, customer, process
):
    rule = rule_for(
        workspace,
        conditions={"repeat_count": 2, "repeat_days": 14},
        title_template="{customer}: {count} failed payments",
    )
    with time_machine.travel(T0, tick=False):
        process(K.PAYMENT_FAILED, customer, occurred_at=T0)
    assert not FollowUpTask.objects.exists()
    later = T0 + timedelta(days=13, hours=23)
    with time_machine.travel(later, tick=False):
        second = process(K.PAYMENT_FAILED, customer, occurred_at=later)
    task = FollowUpTask.objects.get(rule=rule)
    assert task.signal == second
    assert task.title == "Acme Inc: 2 failed payments"


def test_signals_outside_the_window_do_not_count(workspace, customer, process):
    rule_for(workspace, conditions={"repeat_count": 2, "repeat_days": 14})
    with time_machine.travel(T0, tick=False):
        process(K.PAYMENT_FAILED, customer, occurred_at=T0)
    later = T0 + timedelta(days=14, minutes=1)
    with time_machine.travel(later, tick=False):
        process(K.PAYMENT_FAILED, customer, occurred_at=later)
    assert not FollowUpTask.objects.exists()


def test_the_repeat_window_counts_only_that_customers_signals(workspace, customer, process):
    rule_for(workspace, conditions={"repeat_count": 2, "repeat_days": 14})
    process(K.PAYMENT_FAILED, customer)
    process(K.PAYMENT_FAILED, CustomerFactory(workspace=workspace))
    assert not FollowUpTask.objects.exists()


def test_repeated_signals_attach_to_the_open_task_instead_of_opening_more(
    workspace, customer, process
):
    rule = rule_for(workspace)
    signals = [process(K.PAYMENT_FAILED, customer, amount=4900) for _ in range(4)]
    task = FollowUpTask.objects.get(rule=rule)
    assert FollowUpTask.objects.count() == 1
    assert set(task.signal_links.values_list("signal_id", flat=True)) == {s.id for s in signals}
    notes = TaskComment.objects.filter(task=task, is_system=True)
    assert notes.count() == 3
    assert notes.first().body.startswith("Another signal attached: Payment failed on")


def test_each_customer_gets_their_own_task(workspace, customer, process):
    rule_for(workspace)
    process(K.PAYMENT_FAILED, customer)
    process(K.PAYMENT_FAILED, CustomerFactory(workspace=workspace))
    assert FollowUpTask.objects.count() == 2


def test_one_batch_opens_its_tasks_in_one_insert_and_attaches_repeats_in_order(
    workspace, customer, journey
):
    """A processing batch's signals: each customer's first opens a task (all of them in one
    insert each for tasks, links and audit entries); a later one attaches to the task an
    earlier signal of the same batch opened."""
    rule = rule_for(workspace)
    others = CustomerFactory.create_batch(3, workspace=workspace)
    signals = [
        RevenueSignalFactory(
            workspace=workspace,
            customer=who,
            kind=K.PAYMENT_FAILED,
            occurred_at=T0 + timedelta(minutes=minute),
        )
        for minute, who in enumerate([customer, *others, customer])
    ]
    place_signals(signals=signals)

    with CaptureQueriesContext(connection) as queries:
        task_rules_apply(signals=signals)

    tasks = FollowUpTask.objects.filter(rule=rule)
    assert sorted(task.customer_id for task in tasks) == sorted(c.pk for c in [customer, *others])
    first = tasks.get(customer=customer)
    assert first.signal == signals[0]
    assert set(first.signal_links.values_list("signal_id", flat=True)) == {
        signals[0].id,
        signals[-1].id,
    }
    assert AuditEvent.objects.filter(action="task.create").count() == 4
    task_inserts = [
        q for q in queries.captured_queries if 'INSERT INTO "tasks_followuptask"' in q["sql"]
    ]
    assert len(task_inserts) == 1


def test_after_the_task_is_closed_a_new_signal_opens_a_new_one(workspace, customer, process):
    rule = rule_for(workspace)
    process(K.PAYMENT_FAILED, customer)
    FollowUpTask.objects.update(status=TaskStatus.DONE)
    process(K.PAYMENT_FAILED, customer)
    assert FollowUpTask.objects.filter(rule=rule).count() == 2
    assert FollowUpTask.objects.open().count() == 1


def test_the_database_refuses_a_second_open_task_for_a_rule_and_customer(workspace, customer):
    rule = rule_for(workspace)
    FollowUpTask.objects.create(workspace=workspace, title="a", rule=rule, customer=customer)
    with pytest.raises(IntegrityError):
        FollowUpTask.objects.create(workspace=workspace, title="b", rule=rule, customer=customer)


def test_round_robin_takes_turns_within_the_role(
    workspace, process, django_capture_on_commit_callbacks
):
    first = MembershipFactory(workspace=workspace, role=Role.SUPPORT).user
    second = MembershipFactory(workspace=workspace, role=Role.SUPPORT).user
    MembershipFactory(workspace=workspace, role=Role.MEMBER)
    rule_for(workspace, assignment=TaskRule.Assignment.ROUND_ROBIN, assign_role=Role.SUPPORT)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            process(K.PAYMENT_FAILED, CustomerFactory(workspace=workspace))
    assignees = list(FollowUpTask.objects.order_by("id").values_list("assignee", flat=True))
    assert assignees == [first.pk, second.pk, first.pk]
    assert [message.to for message in mail.outbox] == [[first.email], [second.email], [first.email]]
    assert "/w/acme/tasks/" in mail.outbox[0].body
    assert mail.outbox[0].body.count("http://") == 1


def test_round_robin_without_anyone_in_the_role_leaves_the_task_unassigned(
    workspace, customer, process
):
    rule_for(workspace, assignment=TaskRule.Assignment.ROUND_ROBIN, assign_role=Role.SUPPORT)
    process(K.PAYMENT_FAILED, customer)
    assert FollowUpTask.objects.get().assignee is None


def test_a_rule_assigns_its_member_but_not_one_who_left(workspace, member, process):
    rule = rule_for(workspace, assignment=TaskRule.Assignment.MEMBER, assignee=member)
    process(K.PAYMENT_FAILED, CustomerFactory(workspace=workspace))
    assert FollowUpTask.objects.get(rule=rule).assignee == member
    member.memberships.all().delete()
    process(K.PAYMENT_FAILED, CustomerFactory(workspace=workspace))
    assert FollowUpTask.objects.filter(rule=rule, assignee__isnull=True).count() == 1


def test_a_recovered_payment_closes_the_rules_open_task_and_says_why(
    workspace, customer, support, process, django_capture_on_commit_callbacks
):
    rule = rule_for(
        workspace,
        name="Failed payments",
        resolve_kinds=[K.PAYMENT_RECOVERED],
        assignment=TaskRule.Assignment.MEMBER,
        assignee=support,
    )
    process(K.PAYMENT_FAILED, customer)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        recovered = process(K.PAYMENT_RECOVERED, customer, amount=4900)
    task = FollowUpTask.objects.get(rule=rule)
    assert task.status == TaskStatus.DONE
    assert task.closed_at is not None
    note = TaskComment.objects.filter(task=task, is_system=True).last()
    assert note.body.startswith("Closed automatically: recovered payment")
    assert "“Failed payments” closes its task" in note.body
    assert TaskSignal.objects.filter(task=task, signal=recovered, reason="resolved").exists()
    event = AuditEvent.objects.get(action="task.status", target_id=str(task.uuid))
    assert event.data["to"] == "done"
    assert event.actor_label == "Rule “Failed payments”"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("Task closed:")
    assert support.email in mail.outbox[0].to


def test_a_recovery_for_another_customer_closes_nothing(workspace, customer, process):
    rule_for(workspace, resolve_kinds=[K.PAYMENT_RECOVERED])
    process(K.PAYMENT_FAILED, customer)
    process(K.PAYMENT_RECOVERED, CustomerFactory(workspace=workspace))
    assert FollowUpTask.objects.get().status == TaskStatus.OPEN


def test_a_recovery_older_than_the_failure_closes_nothing(workspace, customer, process):
    rule_for(workspace, resolve_kinds=[K.PAYMENT_RECOVERED])
    process(K.PAYMENT_FAILED, customer, occurred_at=T0)
    process(K.PAYMENT_RECOVERED, customer, occurred_at=T0 - timedelta(hours=1))
    assert FollowUpTask.objects.get().status == TaskStatus.OPEN


def test_a_signal_the_rule_does_not_resolve_on_is_noted_and_left_to_a_person(
    workspace, customer, process
):
    rule = rule_for(
        workspace, kinds=[K.DISPUTE_OPENED], resolve_kinds=[], annotate_kinds=[K.DISPUTE_CLOSED]
    )
    process(K.DISPUTE_OPENED, customer)
    process(K.DISPUTE_CLOSED, customer, details={"dispute_status": "won"})
    task = FollowUpTask.objects.get(rule=rule)
    assert task.status == TaskStatus.OPEN
    note = TaskComment.objects.filter(task=task, is_system=True).last()
    assert note.body.startswith("Dispute closed on")
    assert "left for a person to decide" in note.body


def test_reprocessing_the_same_signals_changes_nothing(
    workspace, customer, journey, django_capture_on_commit_callbacks
):
    rule_for(workspace, resolve_kinds=[K.PAYMENT_RECOVERED], annotate_kinds=[K.REFUND])
    signals = [
        RevenueSignalFactory(workspace=workspace, customer=customer, kind=kind, occurred_at=at)
        for kind, at in [
            (K.PAYMENT_FAILED, T0),
            (K.PAYMENT_FAILED, T0 + timedelta(days=1)),
            (K.REFUND, T0 + timedelta(days=2)),
        ]
    ]
    task_rules_apply(signals=signals)

    def snapshot():
        return (
            list(FollowUpTask.objects.values_list("id", "status")),
            TaskSignal.objects.count(),
            TaskComment.objects.count(),
            AuditEvent.objects.count(),
        )

    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        task_rules_apply(signals=signals)
        task_rules_apply(signals=list(reversed(signals)))
    assert snapshot() == before
    assert before[1] == 3
    assert mail.outbox == []


def test_a_resolving_signal_reprocessed_after_the_task_reopened_does_not_close_it_again(
    workspace, customer, process
):
    rule_for(workspace, resolve_kinds=[K.PAYMENT_RECOVERED])
    process(K.PAYMENT_FAILED, customer)
    recovered = process(K.PAYMENT_RECOVERED, customer)
    FollowUpTask.objects.update(status=TaskStatus.OPEN, closed_at=None)
    task_rules_apply(signals=[recovered])
    assert FollowUpTask.objects.get().status == TaskStatus.OPEN


def test_signals_older_than_the_look_back_open_nothing_but_still_resolve(
    workspace, customer, process
):
    rule = rule_for(workspace, resolve_kinds=[K.PAYMENT_RECOVERED])
    now = T0 + timedelta(days=3)
    process(K.PAYMENT_FAILED, customer, occurred_at=now - timedelta(days=30, minutes=1))
    assert not FollowUpTask.objects.exists()
    process(K.PAYMENT_FAILED, customer, occurred_at=now - timedelta(days=29))
    assert FollowUpTask.objects.filter(rule=rule).count() == 1
    process(K.PAYMENT_RECOVERED, customer, occurred_at=now - timedelta(days=28))
    assert FollowUpTask.objects.get().status == TaskStatus.DONE


def test_a_churned_customer_closes_the_default_retention_task(workspace, customer, process):
    task_rules_install_default(workspace=workspace)
    process(K.PAYMENT_FAILED, customer, occurred_at=T0)
    process(K.PAYMENT_FAILED, customer, occurred_at=T0 + timedelta(days=1))
    process(K.PAYMENT_SUCCEEDED, customer, occurred_at=T0 + timedelta(days=1, hours=1))
    task = FollowUpTask.objects.get(rule__name="Repeated failed payments")
    assert task.status == TaskStatus.OPEN
    process(K.SUBSCRIPTION_CANCELED, customer, occurred_at=T0 + timedelta(days=2))
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    notes = list(task.comments.filter(is_system=True).values_list("body", flat=True))
    assert notes[0].startswith("Payment succeeded on")
    assert notes[1].startswith("Closed automatically: canceled subscription")


def test_a_signal_without_a_customer_opens_a_task_of_its_own(workspace, process):
    rule_for(workspace)
    process(K.PAYMENT_FAILED, None)
    process(K.PAYMENT_FAILED, None)
    assert FollowUpTask.objects.count() == 2
    assert FollowUpTask.objects.first().title.startswith("Follow up: failed payment — unknown")


def test_a_template_saved_before_checks_existed_is_used_as_written(workspace, customer, process):
    rule_for(workspace, title_template="Broken {customer.__class__} {")
    process(K.PAYMENT_FAILED, customer)
    assert FollowUpTask.objects.get().title == "Broken {customer.__class__} {"


def test_a_new_workspace_gets_the_four_default_rules(admin):
    workspace = workspace_create(name="Fresh", owner=admin)
    rules = {rule.name: rule for rule in TaskRule.objects.filter(workspace=workspace)}
    assert set(rules) == {
        "Repeated failed payments",
        "Save the account",
        "Dispute opened",
        "Expansion follow-up",
    }
    assert rules["Repeated failed payments"].resolve_kinds == [
        K.PAYMENT_RECOVERED,
        K.SUBSCRIPTION_CANCELED,
    ]
    assert rules["Repeated failed payments"].conditions == {"repeat_count": 2, "repeat_days": 14}
    assert rules["Save the account"].conditions == {"mrr_min": 10_000, "currency": "usd"}
    assert rules["Save the account"].resolve_kinds == [
        K.CANCELLATION_WITHDRAWN,
        K.SUBSCRIPTION_CANCELED,
    ]
    assert rules["Dispute opened"].annotate_kinds == [K.DISPUTE_CLOSED]
    assert all(rule.enabled for rule in rules.values())
    task_rules_install_default(workspace=workspace)
    assert TaskRule.objects.filter(workspace=workspace).count() == 4


def test_the_save_the_account_threshold_follows_a_zero_decimal_main_currency(workspace):
    workspace.main_currency = "jpy"
    workspace.save()
    task_rules_install_default(workspace=workspace)
    rule = TaskRule.objects.get(workspace=workspace, name="Save the account")
    assert rule.conditions == {"mrr_min": 10_000, "currency": "jpy"}


def test_the_default_rules_turn_a_busy_month_into_a_few_sensible_tasks(
    workspace, journey, django_capture_on_commit_callbacks
):
    """A month like the demo's: 40 customers, renewals, one-off failures, a few real problems."""
    workspace.main_currency = "eur"
    workspace.save()
    task_rules_install_default(workspace=workspace)
    customers = [
        CustomerFactory(workspace=workspace, mrr=2900 if i % 4 else 19_900, currency="eur")
        for i in range(40)
    ]
    plan = []
    for i, customer in enumerate(customers):
        plan.append((K.PAYMENT_SUCCEEDED, customer, i % 28))
        if i % 5 == 0:  # eight one-off failures that recover
            plan += [
                (K.PAYMENT_FAILED, customer, i % 28),
                (K.PAYMENT_RECOVERED, customer, 1 + i % 28),
            ]
    for i in (1, 2, 3):  # three customers fail again and again
        plan += [(K.PAYMENT_FAILED, customers[i], day) for day in (2, 5, 9, 12)]
    plan += [(K.PAYMENT_FAILED, customers[4], 3), (K.PAYMENT_FAILED, customers[4], 6)]
    plan += [(K.PAYMENT_RECOVERED, customers[4], 8)]
    plan += [(K.CANCELLATION_SCHEDULED, customers[8], 10)]  # MRR 199.00: worth saving
    plan += [(K.CANCELLATION_SCHEDULED, customers[9], 11)]  # MRR 29.00: not a task
    plan += [(K.DISPUTE_OPENED, customers[10], 15), (K.PLAN_UPGRADED, customers[11], 16)]
    start = T0 - timedelta(days=26)
    signals = [
        RevenueSignalFactory(
            workspace=workspace,
            customer=customer,
            kind=kind,
            currency="eur",
            occurred_at=start + timedelta(days=day, minutes=n),
        )
        for n, (kind, customer, day) in enumerate(plan)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for signal in sorted(signals, key=lambda s: s.occurred_at):
            task_rules_apply(signals=[signal])
    open_tasks = FollowUpTask.objects.open()
    assert len(signals) > 70
    assert open_tasks.count() == 6
    assert FollowUpTask.objects.filter(status=TaskStatus.DONE).count() == 1
    names = sorted(open_tasks.values_list("rule__name", flat=True))
    assert names == [
        "Dispute opened",
        "Expansion follow-up",
        "Repeated failed payments",
        "Repeated failed payments",
        "Repeated failed payments",
        "Save the account",
    ]
