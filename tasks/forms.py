"""Forms for tasks and task rules: they check input and say what is wrong; services do the work."""

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from billing.models import SignalKind
from custory.models import Role, User, Workspace
from custory.money import currency_exponent, money_parse
from journeys.models import Step
from tasks.conditions import MAX_REPEAT_DAYS
from tasks.models import TaskPriority, TaskRule, TaskStatus
from tasks.selectors import step_label, workspace_members
from tasks.templating import PLACEHOLDERS, template_errors

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
COMMENT_MAX = 5_000


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class StepChoiceField(forms.ModelChoiceField):
    """A step of the workspace by uuid; a malformed id reads as "not one of the choices"."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError as error:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from error

    def label_from_instance(self, obj: Step) -> str:
        return step_label(obj)


def member_field(workspace: Workspace, *, label: str = "Assignee") -> MemberChoiceField:
    return MemberChoiceField(
        queryset=workspace_members(workspace),
        required=False,
        label=label,
        empty_label="Unassigned",
        error_messages={"invalid_choice": "Choose a member of this workspace."},
    )


def priority_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=TaskPriority.choices,
        initial=TaskPriority.NORMAL,
        error_messages={"invalid_choice": "Choose a priority from the list."},
    )


class TaskForm(forms.Form):
    """A task's title, description, assignee, priority and due date."""

    title = forms.CharField(
        max_length=TITLE_MAX,
        error_messages={
            "required": "Give the task a title.",
            "max_length": "Keep the title to %(limit_value)d characters (it has %(show_value)d).",
        },
    )
    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={
            "max_length": "Keep the description to %(limit_value)d characters "
            "(it has %(show_value)d)."
        },
    )
    priority = priority_field()
    due_date = forms.DateField(
        required=False,
        label="Due date",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the due date as a date, like 2026-12-31."},
    )

    def __init__(self, *args, workspace: Workspace, current_due: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.current_due = current_due
        self.fields["assignee"] = member_field(workspace)
        self.order_fields(["title", "description", "assignee", "priority", "due_date"])

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the task a title.")
        return title

    def clean_due_date(self) -> date | None:
        due = self.cleaned_data["due_date"]
        # An existing task may keep a due date that has passed; a new one cannot be set in the past.
        if due and due < timezone.now().date() and due != self.current_due:
            raise forms.ValidationError("The due date is in the past; choose today or later.")
        return due


class TaskEditForm(TaskForm):
    """Editing a task on its page; the assignee has its own quick control."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["assignee"]


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=TaskStatus.choices,
        error_messages={
            "required": "Choose a status.",
            "invalid_choice": "Choose a status from the list.",
        },
    )


class AssigneeForm(forms.Form):
    def __init__(self, *args, workspace: Workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"] = member_field(workspace)


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": "Write something before adding a comment.",
            "max_length": "Keep a comment to %(limit_value)d characters (it has %(show_value)d).",
        },
    )

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("Write something before adding a comment.")
        return body


class BulkForm(forms.Form):
    ACTIONS = [("status", "Set status"), ("assign", "Assign to")]

    action = forms.ChoiceField(
        choices=ACTIONS,
        error_messages={
            "required": "Choose what to do with the selected tasks.",
            "invalid_choice": "Choose what to do with the selected tasks.",
        },
    )
    status = forms.ChoiceField(
        choices=[("", "—"), *TaskStatus.choices],
        required=False,
        error_messages={"invalid_choice": "Choose a status from the list."},
    )

    def __init__(self, *args, workspace: Workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"] = member_field(workspace)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "status" and not data.get("status"):
            self.add_error("status", "Choose the status to set.")
        return data


class TaskFilterForm(forms.Form):
    """The task list's filters; invalid values are reported and ignored."""

    STATUS_CHOICES = [("active", "Open or in progress"), ("all", "Any status"), *TaskStatus.choices]

    assignee = forms.ChoiceField(required=False)
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    priority = forms.ChoiceField(
        choices=[("", "Any priority"), *TaskPriority.choices], required=False
    )
    kind = forms.ChoiceField(
        label="Signal kind", choices=[("", "Any signal"), *SignalKind.choices], required=False
    )
    overdue = forms.BooleanField(required=False, label="Overdue only")
    customer = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, workspace: Workspace, members: list[User], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Unassigned"),
            *[(str(user.pk), user.display_name) for user in members],
        ]
        self.fields["step"] = StepChoiceField(
            queryset=Step.objects.for_workspace(workspace).select_related("stage", "journey"),
            to_field_name="uuid",
            required=False,
            empty_label="Any step",
        )
        self.order_fields(["assignee", "status", "priority", "step", "kind", "overdue"])


def _money_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=15,
        label=label,
        error_messages={"invalid": "Enter an amount such as 100.00."},
    )


class TaskRuleForm(forms.Form):
    """A task rule as a person edits it; conditions become the rule's validated JSON."""

    name = forms.CharField(max_length=100, error_messages={"required": "Give the rule a name."})
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")
    kinds = forms.MultipleChoiceField(
        choices=SignalKind.choices,
        widget=forms.CheckboxSelectMultiple,
        label="When a signal of these kinds occurs",
        error_messages={
            "required": "Choose at least one signal kind that opens a task.",
            "invalid_choice": "%(value)s is not a signal kind.",
        },
    )
    repeat_count = forms.IntegerField(
        required=False,
        min_value=2,
        max_value=100,
        label="…and the customer had at least this many of that kind",
    )
    repeat_days = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_REPEAT_DAYS, label="…within this many days"
    )
    title_template = forms.CharField(
        max_length=TITLE_MAX,
        label="Task title",
        error_messages={"required": "Give the tasks a title template."},
    )
    description_template = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX,
        label="Task description",
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    assignment = forms.ChoiceField(
        choices=TaskRule.Assignment.choices,
        widget=forms.RadioSelect,
        initial=TaskRule.Assignment.NOBODY,
        error_messages={"invalid_choice": "Choose how tasks are assigned."},
    )
    assign_role = forms.ChoiceField(
        choices=[("", "—"), *Role.choices],
        required=False,
        label="Round-robin among",
        error_messages={"invalid_choice": "Choose a role from the list."},
    )
    priority = priority_field()
    due_in_days = forms.IntegerField(
        required=False, min_value=0, max_value=365, label="Due in (days)"
    )
    resolve_kinds = forms.MultipleChoiceField(
        choices=SignalKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Close the open task when one of these arrives",
    )
    annotate_kinds = forms.MultipleChoiceField(
        choices=SignalKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Only note these on the open task (a person decides)",
    )

    def __init__(self, *args, workspace: Workspace, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.currency = currency.lower()
        code = self.currency.upper()
        self.fields["amount_min"] = _money_field(f"…with an amount of at least ({code})")
        self.fields["mrr_min"] = _money_field(f"…for a customer whose MRR is at least ({code})")
        self.fields["step"] = StepChoiceField(
            queryset=Step.objects.for_workspace(workspace).select_related("stage", "journey"),
            to_field_name="uuid",
            required=False,
            empty_label="Any step",
            label="…placed on this journey step",
            error_messages={"invalid_choice": "Choose a step of this workspace's journeys."},
        )
        self.fields["assignee"] = member_field(workspace, label="Member")
        self.order_fields(
            [
                "name",
                "enabled",
                "kinds",
                "amount_min",
                "mrr_min",
                "step",
                "repeat_count",
                "repeat_days",
                "title_template",
                "description_template",
                "assignment",
                "assignee",
                "assign_role",
                "priority",
                "due_in_days",
                "resolve_kinds",
                "annotate_kinds",
            ]
        )
        placeholders = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        self.fields["title_template"].help_text = f"Placeholders: {placeholders}."

    @classmethod
    def initial_from(cls, rule: TaskRule, currency: str) -> dict[str, Any]:
        conditions = rule.conditions or {}
        exponent = currency_exponent(currency)

        def major(key: str) -> Decimal | None:
            if conditions.get(key) is None:
                return None
            return Decimal(conditions[key]).scaleb(-exponent)

        return {
            "name": rule.name,
            "enabled": rule.enabled,
            "kinds": rule.kinds,
            "amount_min": major("amount_min"),
            "mrr_min": major("mrr_min"),
            "step": conditions.get("step"),
            "repeat_count": conditions.get("repeat_count"),
            "repeat_days": conditions.get("repeat_days"),
            "title_template": rule.title_template,
            "description_template": rule.description_template,
            "assignment": rule.assignment,
            "assignee": rule.assignee_id,
            "assign_role": rule.assign_role,
            "priority": rule.priority,
            "due_in_days": rule.due_in_days,
            "resolve_kinds": rule.resolve_kinds,
            "annotate_kinds": rule.annotate_kinds,
        }

    def _clean_template(self, name: str) -> str:
        text = self.cleaned_data[name]
        errors = template_errors(text)
        if errors:
            raise forms.ValidationError(errors)
        return text

    def clean_title_template(self) -> str:
        return self._clean_template("title_template")

    def clean_description_template(self) -> str:
        return self._clean_template("description_template")

    def _clean_money(self, name: str) -> int | None:
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        try:
            return money_parse(value, self.currency)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_amount_min(self) -> int | None:
        return self._clean_money("amount_min")

    def clean_mrr_min(self) -> int | None:
        return self._clean_money("mrr_min")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        count, days = data.get("repeat_count"), data.get("repeat_days")
        if count and not days:
            self.add_error("repeat_days", "Say within how many days the signals must occur.")
        if days and not count:
            self.add_error("repeat_count", "Say how many signals must occur in the window.")
        assignment = data.get("assignment")
        if assignment == TaskRule.Assignment.MEMBER and not data.get("assignee"):
            self.add_error("assignee", "Choose the member who gets this rule's tasks.")
        if assignment == TaskRule.Assignment.ROUND_ROBIN and not data.get("assign_role"):
            self.add_error("assign_role", "Choose the role whose members take turns.")
        kinds = set(data.get("kinds") or [])
        for name in ("resolve_kinds", "annotate_kinds"):
            overlap = kinds & set(data.get(name) or [])
            if overlap:
                labels = ", ".join(SignalKind(kind).label for kind in sorted(overlap))
                self.add_error(name, f"{labels} already opens this rule's task.")
        both = set(data.get("resolve_kinds") or []) & set(data.get("annotate_kinds") or [])
        if both:
            labels = ", ".join(SignalKind(kind).label for kind in sorted(both))
            self.add_error("annotate_kinds", f"{labels} already closes the task.")
        return data

    def rule_fields(self) -> dict[str, Any]:
        """The cleaned data in the shape rule_services.task_rule_create/update take."""
        data = self.cleaned_data
        conditions: dict[str, Any] = {}
        if data.get("amount_min") is not None:
            conditions["amount_min"] = data["amount_min"]
        if data.get("mrr_min") is not None:
            conditions["mrr_min"] = data["mrr_min"]
        if conditions:
            conditions["currency"] = self.currency
        if data.get("step"):
            conditions["step"] = str(data["step"].uuid)
        if data.get("repeat_count"):
            conditions["repeat_count"] = data["repeat_count"]
            conditions["repeat_days"] = data["repeat_days"]
        return {
            "name": data["name"].strip(),
            "enabled": data["enabled"],
            "kinds": data["kinds"],
            "conditions": conditions,
            "title_template": data["title_template"],
            "description_template": data["description_template"],
            "assignment": data["assignment"],
            "assignee": data.get("assignee"),
            "assign_role": data.get("assign_role") or "",
            "priority": data["priority"],
            "due_in_days": data.get("due_in_days"),
            "resolve_kinds": data.get("resolve_kinds") or [],
            "annotate_kinds": data.get("annotate_kinds") or [],
        }
