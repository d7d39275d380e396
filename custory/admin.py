from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from custory.models import AuditEvent, Membership, User, Workspace
from custory.services import workspace_delete


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "password1", "password2"]})]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    # Deleting goes through the service: the append-only audit trail lets only it remove rows.
    def delete_model(self, request, obj):
        workspace_delete(workspace=obj)

    def delete_queryset(self, request, queryset):
        for workspace in queryset:
            workspace_delete(workspace=workspace)

    def get_deleted_objects(self, objs, request):
        # The audit rows go with their workspace (through the service), though no one may
        # delete them one by one.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(AuditEvent._meta.verbose_name)
        return deleted, counts, perms_needed, protected


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit table refuses changes and deletions in the database too."""

    list_display = ["at", "workspace", "actor_label", "action", "target_label"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Membership)
