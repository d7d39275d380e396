"""Follow-up tasks and task rules over the API, through the same services as the task pages."""

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from billing.models import RevenueSignal, SignalKind
from custory.api import WorkspaceAPIView
from custory.models import Role, User
from tasks import rule_services, services
from tasks.models import FollowUpTask, TaskComment, TaskPriority, TaskRule, TaskStatus
from tasks.selectors import signal_task_description, signal_task_title, tasks_filter


class MemberField(serializers.SlugRelatedField):
    """A member of the workspace, by email."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="email", queryset=User.objects.none(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        workspace = getattr(request, "workspace", None)
        return (
            User.objects.filter(memberships__workspace=workspace)
            if workspace
            else User.objects.none()
        )


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.EmailField(source="author.email", read_only=True, allow_null=True)

    class Meta:
        model = TaskComment
        fields = ["body", "author", "is_system", "created_at"]
        read_only_fields = ["is_system", "created_at"]


class TaskSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    assignee = MemberField(required=False, allow_null=True)
    signal = serializers.UUIDField(source="signal.uuid", read_only=True, allow_null=True)
    customer = serializers.UUIDField(source="customer.uuid", read_only=True, allow_null=True)
    step = serializers.UUIDField(source="step.uuid", read_only=True, allow_null=True)
    rule = serializers.CharField(source="rule.name", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = FollowUpTask
        fields = [
            "id",
            "title",
            "description",
            "status",
            "priority",
            "assignee",
            "due_date",
            "signal",
            "customer",
            "step",
            "context_label",
            "rule",
            "created_at",
            "updated_at",
            "closed_at",
            "url",
        ]
        read_only_fields = ["context_label", "created_at", "updated_at", "closed_at"]

    def get_url(self, task) -> str:
        return task.get_absolute_url()


class TaskCreateSerializer(serializers.Serializer):
    signal = serializers.UUIDField(
        required=False, help_text="The signal the task follows up; keeps its customer and step."
    )
    title = serializers.CharField(
        max_length=200, required=False, help_text="Default: from the signal."
    )
    description = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    assignee = MemberField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)

    def validate(self, data):
        if not data.get("signal") and not (data.get("title") or "").strip():
            raise ValidationError({"title": ["A task without a signal needs a title."]})
        return data


class TaskUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=TaskPriority.choices, required=False)
    due_date = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    assignee = MemberField(required=False, allow_null=True)


def _tasks(request):
    return FollowUpTask.objects.for_workspace(request.workspace).select_related(
        "workspace", "assignee", "customer", "step", "signal", "rule"
    )


def _task_error(error: services.TaskError) -> ValidationError:
    return ValidationError({"detail": str(error)})


class TaskList(ListModelMixin, WorkspaceAPIView):
    serializer_class = TaskSerializer
    cursor_ordering = ("-created_at", "-id")

    def get_queryset(self):
        if self.is_schema:
            return FollowUpTask.objects.none()
        params = self.request.GET
        data = {
            "status": params.get("status") or "active",
            "priority": params.get("priority")
            if params.get("priority") in TaskPriority.values
            else "",
            "kind": params.get("kind") if params.get("kind") in SignalKind.values else "",
            "overdue": params.get("overdue") in ("1", "true"),
        }
        assignee = params.get("assignee", "")
        if assignee in ("me", "none"):
            data["assignee"] = assignee
        elif assignee:
            data["assignee"] = User.objects.filter(email__iexact=assignee).values("pk")[:1]
        return tasks_filter(_tasks(self.request), data, user=self.request.user)

    @extend_schema(
        summary="List follow-up tasks",
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=["active", "all", *TaskStatus.values],
                description="Default `active` (open or in progress).",
            ),
            OpenApiParameter("assignee", str, description="`me`, `none` or an email."),
            OpenApiParameter("priority", str, enum=TaskPriority.values),
            OpenApiParameter("kind", str, enum=SignalKind.values, description="Signal kind."),
            OpenApiParameter("overdue", bool),
            OpenApiParameter("limit", int, description="Page size, 1–200 (default 50)."),
        ],
        tags=["tasks"],
    )
    def get(self, request, slug):
        return self.list(request)

    @extend_schema(
        summary="Create a task, usually from a signal",
        description=(
            "With `signal`, the task keeps the signal's customer and journey step, and its title "
            "and description default to the ones the signal page proposes."
        ),
        request=TaskCreateSerializer,
        responses={201: TaskSerializer},
        examples=[
            OpenApiExample(
                "From a failed payment",
                value={
                    "signal": "6f1c3f9e-8a51-4f8e-9a3c-2b1f0c9d7e21",
                    "priority": "high",
                    "assignee": "support@acme.test",
                    "due_date": "2026-12-05",
                },
                request_only=True,
            )
        ],
        tags=["tasks"],
    )
    def post(self, request, slug):
        data = TaskCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        signal_id = fields.pop("signal", None)
        try:
            if signal_id:
                signal = get_object_or_404(
                    RevenueSignal.objects.for_workspace(request.workspace).select_related(
                        "workspace", "customer"
                    ),
                    uuid=signal_id,
                )
                fields.setdefault("title", signal_task_title(signal))
                fields.setdefault("description", signal_task_description(signal, step=None))
                task = services.task_create_from_signal(signal=signal, actor=request.user, **fields)
            else:
                task = services.task_create(
                    workspace=request.workspace, actor=request.user, **fields
                )
        except services.TaskError as error:
            raise _task_error(error) from error
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetail(WorkspaceAPIView):
    serializer_class = TaskSerializer

    def get_queryset(self):
        return FollowUpTask.objects.none() if self.is_schema else _tasks(self.request)

    @extend_schema(summary="One task", tags=["tasks"])
    def get(self, request, slug, uuid):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Update a task",
        description="Any of title, description, priority, due date, status and assignee.",
        request=TaskUpdateSerializer,
        responses={200: TaskSerializer},
        examples=[OpenApiExample("Done", value={"status": "done"}, request_only=True)],
        tags=["tasks"],
    )
    def patch(self, request, slug, uuid):
        task = self.get_object()
        data = TaskUpdateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        changes = data.validated_data
        try:
            with transaction.atomic():
                if {"title", "description", "priority", "due_date"} & changes.keys():
                    services.task_update(
                        task=task,
                        actor=request.user,
                        title=changes.get("title", task.title),
                        description=changes.get("description", task.description),
                        priority=changes.get("priority", task.priority),
                        due_date=changes.get("due_date", task.due_date),
                    )
                if "assignee" in changes:
                    services.task_assign(
                        task=task, actor=request.user, assignee=changes["assignee"]
                    )
                if "status" in changes:
                    services.task_status_set(
                        task=task, actor=request.user, status=changes["status"]
                    )
        except services.TaskError as error:
            raise _task_error(error) from error
        return Response(self.get_serializer(task).data)


class TaskComments(ListModelMixin, WorkspaceAPIView):
    serializer_class = CommentSerializer
    pagination_class = None

    def task(self) -> FollowUpTask:
        return get_object_or_404(_tasks(self.request), uuid=self.kwargs["uuid"])

    def get_queryset(self):
        if self.is_schema:
            return TaskComment.objects.none()
        return self.task().comments.select_related("author")

    @extend_schema(summary="A task's comments, oldest first", tags=["tasks"])
    def get(self, request, slug, uuid):
        return self.list(request)

    @extend_schema(
        summary="Comment on a task",
        responses={201: CommentSerializer},
        examples=[
            OpenApiExample("A note", value={"body": "Called, card replaced."}, request_only=True)
        ],
        tags=["tasks"],
    )
    def post(self, request, slug, uuid):
        task = self.task()
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            comment = services.task_comment_add(
                task=task, actor=request.user, body=data.validated_data["body"]
            )
        except services.TaskError as error:
            raise _task_error(error) from error
        return Response(self.get_serializer(comment).data, status=status.HTTP_201_CREATED)


class TaskRuleSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=SignalKind.choices))
    resolve_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=SignalKind.choices), required=False, default=list
    )
    annotate_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=SignalKind.choices), required=False, default=list
    )
    conditions = serializers.DictField(required=False, default=dict)
    assignee = MemberField(required=False, allow_null=True)
    due_in_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=3650
    )

    class Meta:
        model = TaskRule
        fields = [
            "id",
            "name",
            "enabled",
            "kinds",
            "conditions",
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


class _RuleBase(WorkspaceAPIView):
    serializer_class = TaskRuleSerializer
    write_role = Role.MEMBER

    def get_queryset(self):
        if self.is_schema:
            return TaskRule.objects.none()
        return TaskRule.objects.filter(workspace=self.request.workspace).select_related(
            "workspace", "assignee"
        )


class TaskRuleList(ListModelMixin, _RuleBase):
    pagination_class = None

    @extend_schema(summary="Task rules", tags=["task rules"])
    def get(self, request, slug):
        return self.list(request)

    @extend_schema(
        summary="Add a task rule",
        description="Admins and members. Templates take {kind}, {customer}, {amount}, {step}.",
        responses={201: TaskRuleSerializer},
        examples=[
            OpenApiExample(
                "Disputes go to support",
                value={
                    "name": "Disputes",
                    "kinds": ["dispute_opened"],
                    "title_template": "Dispute: {customer}",
                    "assignment": "round_robin",
                    "assign_role": "support",
                    "priority": "urgent",
                    "due_in_days": 2,
                },
                request_only=True,
            )
        ],
        tags=["task rules"],
    )
    def post(self, request, slug):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        defaults = {
            "enabled": True,
            "description_template": "",
            "assign_role": "",
            "priority": "normal",
        }
        fields = {**defaults, **data.validated_data}
        try:
            rule = rule_services.task_rule_create(
                workspace=request.workspace, actor=request.user, **fields
            )
        except services.TaskError as error:
            raise _task_error(error) from error
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)


class TaskRuleDetail(_RuleBase):
    @extend_schema(summary="One task rule", tags=["task rules"])
    def get(self, request, slug, uuid):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Change a task rule", description="Admins and members.", tags=["task rules"]
    )
    def patch(self, request, slug, uuid):
        rule = self.get_object()
        data = self.get_serializer(rule, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = {key: getattr(rule, key) for key in rule_services.RULE_FIELDS}
        fields.update(data.validated_data)
        try:
            rule = rule_services.task_rule_update(rule=rule, actor=request.user, **fields)
        except services.TaskError as error:
            raise _task_error(error) from error
        return Response(self.get_serializer(rule).data)
