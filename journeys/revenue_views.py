"""The Revenue page (headline figures, MRR over time, movements) and its tables as CSV."""

import csv

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from billing.exchange import StoredRates
from billing.filters import BoardFilterForm
from billing.revenue_models import RevenueSettings
from billing.revenue_services import revenue_settings_update
from custory.access import workspace_view
from custory.models import Role
from journeys.board_selectors import RollupFilter
from journeys.revenue_charts import KIND_LABEL
from journeys.revenue_forms import RevenueSettingsForm
from journeys.revenue_selectors import revenue_page, revenue_rows


def _filters(request: HttpRequest) -> tuple[BoardFilterForm, RollupFilter]:
    form = BoardFilterForm(request.GET or None, workspace=request.workspace)
    connection = form.selected_connection
    filters = RollupFilter(
        period=form.selected_period,
        livemode=form.selected_livemode,
        connection_id=connection.pk if connection else None,
    )
    return form, filters


@workspace_view
def revenue(request: HttpRequest) -> HttpResponse:
    form, filters = _filters(request)
    page = revenue_page(request.workspace, filters)
    context = {
        "nav": "journeys",
        "form": form,
        "period": filters.period,
        "query": request.GET.urlencode(),
        "page": page,
        "kind_labels": KIND_LABEL,
        "movement_totals": [(KIND_LABEL[k], m) for k, m in page.headline.movements.items()],
    }
    return render(request, "journeys/revenue.html", context)


@workspace_view
def revenue_csv(request: HttpRequest, table: str) -> HttpResponse:
    """The chart's table: `mrr` (MRR at the end of each day, week or month) or `movements`."""
    if table not in ("mrr", "movements"):
        raise Http404
    _, filters = _filters(request)
    unit, rows = revenue_rows(request.workspace, filters, StoredRates())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{request.workspace.slug}-{table}-{filters.period.start}-{filters.period.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    currencies = sorted({c for row in rows for c in row.mrr.by_currency})
    if table == "mrr":
        code = rows[0].mrr.currency.upper() if rows else ""
        writer.writerow([unit, f"mrr_{code}", *(f"mrr_{c.upper()}" for c in currencies)])
        for row in rows:
            parts = [row.mrr.by_currency.get(c, 0) for c in currencies]
            writer.writerow([row.start.isoformat(), row.mrr.total, *parts])
        return response
    writer.writerow([unit, "movement", "total", "currency_amounts"])
    for row in rows:
        for kind, money in row.movements.items():
            amounts = " ".join(f"{c.upper()}:{v}" for c, v in sorted(money.by_currency.items()))
            writer.writerow([row.start.isoformat(), kind, money.total, amounts])
    return response


@workspace_view(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def revenue_settings(request: HttpRequest) -> HttpResponse:
    current = RevenueSettings.objects.filter(workspace=request.workspace).first()
    initial = {
        "reporting_currency": current.reporting_currency if current else "",
        "count_trials_from_start": current.count_trials_from_start if current else False,
    }
    form = RevenueSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        revenue_settings_update(
            workspace=request.workspace,
            actor=request.user,
            reporting_currency=form.cleaned_data["reporting_currency"],
            count_trials_from_start=form.cleaned_data["count_trials_from_start"],
        )
        messages.success(request, "Revenue settings saved.")
        return redirect("journeys:revenue_settings", slug=request.workspace.slug)
    context = {
        "nav": "settings",
        "form": form,
        "account_currency": current.account_currency if current else "",
    }
    return render(request, "journeys/revenue_settings.html", context)
