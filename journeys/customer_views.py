"""The customers list and a customer's page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from billing import selectors
from billing.describe import stripe_dashboard_url
from billing.evidence_selectors import customer_evidence
from billing.models import Customer
from custory.access import get_object_for_member, workspace_view
from custory.http import page_of, query_without
from journeys.signal_selectors import customer_steps

CUSTOMER_PAGE_SIZE = 50


@workspace_view
@vary_on_headers("HX-Request")
def customer_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    at_risk = request.GET.get("at_risk") == "1"
    sort = request.GET.get("sort", "")
    customers = selectors.customer_search(request.workspace, q=q, at_risk=at_risk, sort=sort)
    # No COUNT(*): a search over every customer would then run twice.
    page = page_of(customers, request.GET.get("page"), CUSTOMER_PAGE_SIZE)
    page.object_list = selectors.customer_figures_add(list(page.object_list))
    context = {
        "nav": "customers",
        "page": page,
        "q": q,
        "at_risk": at_risk,
        "sort": sort,
        "sorts": selectors.CUSTOMER_SORTS,
        "query": query_without(request, "page"),
    }
    template = "journeys/customer_list.html"
    if request.htmx and request.htmx.target == "customer-results":
        template += "#customer-results"
    return render(request, template, context)


@workspace_view
def customer_detail(request: HttpRequest, uuid) -> HttpResponse:
    customer = get_object_for_member(
        request, Customer.objects.select_related("workspace"), uuid=uuid
    )
    subscriptions = selectors.customer_subscriptions(customer)
    context = {
        "nav": "customers",
        "customer": customer,
        "figures": selectors.customer_figures_of(customer),
        "subscriptions": subscriptions,
        "plan": next((s.plan_name or s.price_id for s in subscriptions if s.status), ""),
        "timeline": selectors.customer_timeline(customer),
        "timeline_limit": selectors.CUSTOMER_TIMELINE_LIMIT,
        "steps": customer_steps(customer),
        "evidence": customer_evidence(customer),
        "stripe_url": stripe_dashboard_url(customer.stripe_id, livemode=customer.livemode),
    }
    return render(request, "journeys/customer_detail.html", context)
