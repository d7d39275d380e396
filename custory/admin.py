from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from custory.models import AuditEvent, Membership, User, Workspace


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


admin.site.register(Workspace)
admin.site.register(Membership)
admin.site.register(AuditEvent)
