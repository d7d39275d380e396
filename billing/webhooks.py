"""The Stripe webhook endpoint (built by the ingestion issue)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest, endpoint) -> HttpResponse:
    return HttpResponse("Unknown webhook endpoint.\n", status=404, content_type="text/plain")
