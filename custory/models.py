"""The workspace core: users, workspaces, memberships with roles, invitations and the audit log."""

from datetime import timedelta
from uuid import uuid4

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

INVITATION_LIFETIME = timedelta(days=7)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in with an email address; there are no usernames."""

    username = None
    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.get_full_name() or self.email


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    SUPPORT = "support", "Support"


class WorkspaceQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(memberships__user=user)


class Workspace(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    main_currency = models.CharField(max_length=3, default="usd")
    created_at = models.DateTimeField(default=timezone.now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("journeys:board", kwargs={"slug": self.slug})


class MembershipQuerySet(models.QuerySet):
    def admins(self):
        return self.filter(role=Role.ADMIN)


class Membership(models.Model):
    uuid = models.UUIDField(default=uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user"], name="custory_membership_unique_per_workspace"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="custory_membership_role_valid"
            ),
        ]

    def __str__(self):
        return f"{self.user} in {self.workspace} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_edit_journeys(self) -> bool:
        """Admins and members shape journeys, mapping rules and task rules; support does not."""
        return self.role in (Role.ADMIN, Role.MEMBER)


class InvitationQuerySet(models.QuerySet):
    def open(self):
        """Neither accepted nor canceled; an expired one can still be resent or canceled."""
        return self.filter(accepted_at__isnull=True, canceled_at__isnull=True)

    def pending(self):
        return self.open().filter(expires_at__gt=timezone.now())


class InvitationState(models.TextChoices):
    PENDING = "pending", "Pending"
    EXPIRED = "expired", "Expired"
    ACCEPTED = "accepted", "Accepted"
    CANCELED = "canceled", "Canceled"


def _invitation_expiry():
    return timezone.now() + INVITATION_LIFETIME


class Invitation(models.Model):
    """A single-use invitation for an email address to join a workspace with a role."""

    uuid = models.UUIDField(default=uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token = models.UUIDField(default=uuid4, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    canceled_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per address and workspace: a second invite is a resend.
            models.UniqueConstraint(
                Lower("email"),
                "workspace",
                condition=models.Q(accepted_at__isnull=True, canceled_at__isnull=True),
                name="custory_invitation_one_open_per_email",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="custory_invitation_role_valid"
            ),
        ]

    def __str__(self):
        return f"Invitation of {self.email} to {self.workspace}"

    def get_absolute_url(self):
        return reverse("invitation_accept", kwargs={"token": self.token})

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.canceled_at is not None:
            return InvitationState.CANCELED
        if self.expires_at <= timezone.now():
            return InvitationState.EXPIRED
        return InvitationState.PENDING

    @property
    def is_pending(self) -> bool:
        return self.state == InvitationState.PENDING


class AuditPurge(models.Model):
    """A workspace being deleted by workspace_delete: the audit trigger lets its rows go."""

    workspace_id = models.BigIntegerField(unique=True)

    def __str__(self):
        return f"Audit purge of workspace {self.workspace_id}"


class AuditEventQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)


class AuditEvent(models.Model):
    """Who did what, when, to what; append-only (database triggers, migration 0006)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept so the log still names the person after their account is deleted.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The audit page: a workspace's newest events first, optionally by action.
            models.Index(fields=["workspace", "-at"], name="custory_audit_ws_at"),
        ]

    def __str__(self):
        return f"{self.action} by {self.actor_label or 'system'}"


class OutboundFormat(models.TextChoices):
    JSON = "json", "JSON (signed)"
    SLACK = "slack", "Slack (Block Kit)"


class OutboundWebhookQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def enabled(self):
        return self.filter(disabled_at__isnull=True)


class OutboundWebhook(models.Model):
    """An endpoint of a workspace that receives its events, signed; the secrets are encrypted."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="outbound_webhooks"
    )
    uuid = models.UUIDField(default=uuid4, unique=True, editable=False)
    url = models.URLField(max_length=500)
    # Event types it receives (e.g. "signal.payment_failed", "task.created"); empty means all.
    event_types = models.JSONField(default=list, blank=True)
    format = models.CharField(
        max_length=10, choices=OutboundFormat.choices, default=OutboundFormat.JSON
    )
    # [{"secret": <Fernet token>, "expires_at": <ISO time or null>}], newest first: during a
    # rotation's overlap every unexpired secret signs each delivery.
    secrets = models.JSONField(default=list, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # First failure of the current failing streak; cleared by any success.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = OutboundWebhookQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(format__in=OutboundFormat.values),
                name="custory_outbound_format_valid",
            ),
        ]

    def __str__(self):
        return self.url

    def get_absolute_url(self):
        return reverse(
            "workspace:webhook_detail", kwargs={"slug": self.workspace.slug, "uuid": self.uuid}
        )

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One event for one endpoint: its envelope as sent, and how its attempts went."""

    webhook = models.ForeignKey(
        OutboundWebhook, on_delete=models.CASCADE, related_name="deliveries"
    )
    uuid = models.UUIDField(default=uuid4, unique=True, editable=False)
    # The envelope's id: the same for every endpoint and every redelivery of one event.
    event_id = models.UUIDField(default=uuid4)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="custory_delivery_status_valid",
            ),
        ]
        indexes = [
            # The delivery log of one endpoint, newest first.
            models.Index(fields=["webhook", "-created_at"], name="custory_delivery_hook_created"),
            # The sweep's pruning of finished deliveries older than 30 days.
            models.Index(fields=["created_at"], name="custory_delivery_created"),
            # The retry sweep: deliveries due for another attempt.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "retrying", "sending"]),
                name="custory_delivery_due",
            ),
        ]

    def __str__(self):
        return f"{self.event_type} to {self.webhook}"


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal API key for one workspace; only its SHA-256 is stored, shown once at creation."""

    uuid = models.UUIDField(default=uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=5, choices=TokenScope.choices, default=TokenScope.READ)
    # The first characters of the key, so people can tell their tokens apart.
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=TokenScope.values), name="custory_token_scope_valid"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.WRITE


class InboundWebhook(models.Model):
    """A signed inbound webhook of a third-party tool (e.g. PostHog), with its own HMAC secret.

    Credentials like API tokens, hence in the core; billing.pipeline verifies and ingests.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    uuid = models.UUIDField(default=uuid4, unique=True, editable=False)
    source = models.CharField(max_length=32)
    # Fernet token of the secret (custory.crypto): it must be readable to verify.
    secret_encrypted = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source"],
                condition=models.Q(revoked_at__isnull=True),
                name="custory_inbound_webhook_one_active",
            ),
        ]

    def __str__(self):
        return f"{self.source} webhook"
