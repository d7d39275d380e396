"""Stripe settings: connect, rotate, replace the key, create the endpoint, import, revoke.

Admins only; everyone else gets 404 from workspace_view. Each POST calls one service from
billing.pipeline.connections and answers with a redirect, or the same page with the form's
errors (400).
"""

from collections.abc import Callable
from datetime import UTC, datetime, time
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Max, Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import HistoryImport, StripeConnection, WebhookSecret
from billing.pipeline import connections
from billing.pipeline.forms import (
    ConnectForm,
    ImportForm,
    KeyReplaceForm,
    RevokeForm,
    SecretAddForm,
)
from billing.pipeline.history import health, reconcile
from billing.pipeline.history.rebuild import APPROXIMATE
from billing.pipeline.stripe_api import StripeAPIError
from custory import crypto
from custory.access import get_object_for_member, workspace_view
from custory.models import Role

ENCRYPTION_MISSING = (
    "Stripe cannot be connected yet: this server has no encryption key for storing Stripe "
    "secrets. The operator must set CUSTORY_ENCRYPTION_KEYS (see the README) and restart."
)

UNDECRYPTABLE = (
    "Custory cannot decrypt this connection's stored secrets: the encryption key they were saved "
    "with is no longer in CUSTORY_ENCRYPTION_KEYS. The operator must add it back (and then run "
    "`manage.py encryption_rotate`)."
)

_active_secrets = Prefetch(
    "webhook_secrets",
    queryset=WebhookSecret.objects.filter(retired_at__isnull=True),
    to_attr="active_secrets",
)


def _guide_context() -> dict:
    return {
        "event_types": PROCESSED_EVENT_TYPES,
        "permissions": connections.REQUIRED_PERMISSIONS,
        "optional_permission": connections.OPTIONAL_PERMISSION,
        "encryption_ready": crypto.encryption_configured(),
        "encryption_missing": ENCRYPTION_MISSING,
        "nav": "settings",
    }


def _connection(request: HttpRequest, uuid) -> StripeConnection:
    queryset = StripeConnection.objects.prefetch_related(_active_secrets).select_related(
        "connected_by", "revoked_by"
    )
    return get_object_for_member(request, queryset, uuid=uuid)


def connection_action(view: Callable) -> Callable:
    """Load the URL's connection (404 if not this workspace's) before looking at the method.

    A GET on an action URL (a reload after a form error, say) leads back to the connection page.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, connection, *args, **kwargs):
        connection = _connection(request, connection)
        if request.method != "POST":
            return _back(request, connection)
        try:
            return view(request, connection, *args, **kwargs)
        except crypto.EncryptionNotConfigured:
            messages.error(request, ENCRYPTION_MISSING)
        except crypto.InvalidToken:
            messages.error(request, UNDECRYPTABLE)
        return _back(request, connection)

    return wrapped


@workspace_view(role=Role.ADMIN)
@sensitive_post_parameters("webhook_secret", "api_key")
@require_http_methods(["GET", "POST"])
def stripe_settings(request: HttpRequest) -> HttpResponse:
    form = ConnectForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not crypto.encryption_configured():
            messages.error(request, ENCRYPTION_MISSING)
            status = 503
        elif form.is_valid():
            try:
                connection = connections.connection_create(
                    workspace=request.workspace,
                    actor=request.user,
                    webhook_secret=form.cleaned_data["webhook_secret"],
                    api_key=form.cleaned_data["api_key"],
                    label=form.cleaned_data["label"],
                    livemode=form.cleaned_data["mode"] == "live",
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    f"Connected “{connection.label}”. Last step: add the webhook URL below to "
                    "Stripe, if you have not yet.",
                )
                return _back(request, connection, "webhook")
        status = 400 if status == 200 else status
    connection_list = (
        StripeConnection.objects.for_workspace(request.workspace)
        .annotate(last_event_at=Max("events__received_at"))
        .prefetch_related(_active_secrets)
        .order_by("status", "connected_at")
    )
    context = {**_guide_context(), "connections": connection_list, "form": form}
    return render(request, "billing/stripe_settings.html", context, status=status)


def _render_detail(
    request: HttpRequest, connection: StripeConnection, status: int = 200, **forms
) -> HttpResponse:
    context = {
        **_guide_context(),
        "connection": connection,
        "secret_form": forms.get("secret_form") or SecretAddForm(),
        "key_form": forms.get("key_form") or KeyReplaceForm(),
        "latest_import": connection.imports.first(),
        "import_form": ImportForm(),
        "approximate": APPROXIMATE,
    }
    template = "billing/stripe_connection.html"
    if request.htmx and forms.get("fragment"):
        template += "#" + forms["fragment"]
    return render(request, template, context, status=status)


@workspace_view(role=Role.ADMIN)
def connection_detail(request: HttpRequest, connection) -> HttpResponse:
    connection = _connection(request, connection)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return _render_detail(request, connection)


def _back(request: HttpRequest, connection: StripeConnection, anchor: str = "") -> HttpResponse:
    url = reverse("billing:connection_detail", args=[request.workspace.slug, connection.uuid])
    return redirect(url + (f"#{anchor}" if anchor else ""))


def _refused(request: HttpRequest, connection, error: ValidationError, anchor: str = ""):
    for message in error.messages:
        messages.error(request, message)
    return _back(request, connection, anchor)


@workspace_view(role=Role.ADMIN)
@sensitive_post_parameters("webhook_secret")
@connection_action
def secret_add(request: HttpRequest, connection: StripeConnection) -> HttpResponse:
    form = SecretAddForm(request.POST)
    if form.is_valid():
        try:
            added = connections.webhook_secret_add(
                connection=connection,
                actor=request.user,
                webhook_secret=form.cleaned_data["webhook_secret"],
            )
        except connections.ConnectionRefused as error:
            return _refused(request, connection, error, "secrets")
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Added {added.hint}. Both secrets verify now; retire the old one once Stripe "
                "signs with the new one only.",
            )
            return _back(request, connection, "secrets")
    return _render_detail(request, connection, status=400, secret_form=form)


@workspace_view(role=Role.ADMIN)
@connection_action
def secret_retire(request: HttpRequest, connection: StripeConnection) -> HttpResponse:
    try:
        secret_id = int(request.POST.get("secret", ""))
    except ValueError:
        secret_id = 0
    try:
        connections.webhook_secret_retire(
            connection=connection, actor=request.user, secret_id=secret_id
        )
    except ValidationError as error:
        return _refused(request, connection, error, "secrets")
    messages.success(request, "Retired the old signing secret; webhooks signed with it now fail.")
    return _back(request, connection, "secrets")


@workspace_view(role=Role.ADMIN)
@sensitive_post_parameters("api_key")
@connection_action
def key_replace(request: HttpRequest, connection: StripeConnection) -> HttpResponse:
    form = KeyReplaceForm(request.POST)
    if form.is_valid():
        try:
            connection = connections.api_key_replace(
                connection=connection, actor=request.user, api_key=form.cleaned_data["api_key"]
            )
        except connections.ConnectionRefused as error:
            return _refused(request, connection, error, "key")
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Stripe accepted the new key {connection.api_key_hint}; it replaces the old "
                "one. You can now delete the old key in the Stripe dashboard.",
            )
            return _back(request, connection, "key")
    return _render_detail(request, connection, status=400, key_form=form)


@workspace_view(role=Role.ADMIN)
@connection_action
def key_verify(request: HttpRequest, connection: StripeConnection) -> HttpResponse:
    try:
        connection = connections.connection_verify_key(connection=connection, actor=request.user)
    except ValidationError as error:
        return _refused(request, connection, error, "key")
    messages.success(
        request, f"Stripe accepted the key for {connection.account_name or connection.account_id}."
    )
    return _back(request, connection, "key")


@workspace_view(role=Role.ADMIN)
@connection_action
def endpoint_create(request: HttpRequest, connection: StripeConnection) -> HttpResponse:
    try:
        added = connections.connection_create_endpoint(connection=connection, actor=request.user)
    except ValidationError as error:
        return _refused(request, connection, error, "endpoint")
    messages.success(
        request,
        f"Created the webhook endpoint in Stripe with {len(PROCESSED_EVENT_TYPES)} event types "
        f"and saved its signing secret ({added.hint}).",
    )
    return _back(request, connection, "endpoint")


@workspace_view(role=Role.ADMIN)
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def history_import(request: HttpRequest, connection) -> HttpResponse:
    """GET: the import's progress (a fragment for htmx polling); POST: start an import."""
    connection = _connection(request, connection)
    if request.method == "GET":
        return _render_detail(request, connection, fragment="import_panel")
    form = ImportForm(request.POST)
    if not form.is_valid():
        return _refused(request, connection, ValidationError("Give the date as YYYY-MM-DD."))
    day = form.cleaned_data["since"]
    since = datetime.combine(day, time.min, tzinfo=UTC) if day else None
    try:
        connections.history_import_start(connection=connection, actor=request.user, since=since)
    except ValidationError as error:
        return _refused(request, connection, error, "import")
    messages.success(request, "Importing the history from Stripe; progress shows below.")
    return _back(request, connection, "import")


@workspace_view(role=Role.ADMIN)
@connection_action
def history_import_resume(request: HttpRequest, connection: StripeConnection) -> HttpResponse:
    latest = HistoryImport.objects.filter(connection=connection).first()
    try:
        resumed = latest is not None and connections.history_import_resume(
            history_import=latest, actor=request.user
        )
    except ValidationError as error:
        return _refused(request, connection, error, "import")
    if resumed:
        messages.success(request, "The import continues where it stopped.")
    else:
        messages.error(request, "There is no stopped import to resume.")
    return _back(request, connection, "import")


@workspace_view(role=Role.ADMIN)
@connection_action
def history_import_cancel(request: HttpRequest, connection: StripeConnection) -> HttpResponse:
    running = HistoryImport.objects.filter(connection=connection).first()
    if running is not None and connections.history_import_cancel(
        history_import=running, actor=request.user
    ):
        messages.success(request, "The import stops after the page it is reading.")
    else:
        messages.error(request, "No import is running for this connection.")
    return _back(request, connection, "import")


@workspace_view(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def connection_revoke(request: HttpRequest, connection) -> HttpResponse:
    connection = _connection(request, connection)
    form = RevokeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        delete_data = form.cleaned_data["data"] == RevokeForm.DELETE
        try:
            result = connections.connection_revoke(
                connection=connection, actor=request.user, delete_data=delete_data
            )
        except ValidationError as error:
            return _refused(request, connection, error)
        summary = f"Revoked “{connection.label}”: its webhook URL answers 410 Gone from now on."
        if result.purged is not None:
            summary += (
                f" Deleted {result.purged['events']} events, {result.purged['signals']} signals "
                f"and {result.purged['customers']} customers that came from it."
            )
        messages.success(request, summary)
        return redirect("billing:stripe_settings", request.workspace.slug)
    status = 400 if request.method == "POST" else 200
    context = {"connection": connection, "form": form, "nav": "settings"}
    return render(request, "billing/stripe_revoke.html", context, status=status)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def sync_health(request: HttpRequest, connection) -> HttpResponse:
    """GET: what we hold; POST: also check it against Stripe (reconciliation and gaps)."""
    connection = _connection(request, connection)
    context = {
        "connection": connection,
        "health": health.sync_health(connection=connection),
        "can_fetch": request.membership.role == Role.ADMIN,
    }
    if request.method == "POST":
        try:
            context["result"] = reconcile.reconcile(connection=connection)
        except StripeAPIError as error:
            messages.error(request, error.message)
    return render(request, "billing/sync_health.html", context)


@workspace_view(role=Role.ADMIN)
@connection_action
def gaps_fetch(request: HttpRequest, connection: StripeConnection) -> HttpResponse:
    try:
        fetched = reconcile.gaps_fetch(connection=connection)
    except StripeAPIError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Fetched {fetched} missing event{pluralize(fetched)}.")
    url = reverse("billing:sync_health", args=[request.workspace.slug, connection.uuid])
    return redirect(url)


@workspace_view(role=Role.MEMBER)
def sync_health_index(request: HttpRequest) -> HttpResponse:
    """The sync health of the workspace's connections (straight to it when there is one)."""
    connection_list = list(
        StripeConnection.objects.for_workspace(request.workspace).order_by("status", "label")
    )
    if len(connection_list) == 1:
        return redirect(
            "billing:sync_health", slug=request.workspace.slug, connection=connection_list[0].uuid
        )
    return render(request, "billing/sync_health_index.html", {"connections": connection_list})
