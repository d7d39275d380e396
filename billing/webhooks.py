"""The Stripe webhook endpoint (completed by the ingestion work)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.models import ConnectionStatus, StripeConnection


def _plain(message: str, status: int) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest, endpoint) -> HttpResponse:
    connection = StripeConnection.objects.filter(uuid=endpoint).only("status").first()
    if connection is None:
        return _plain("Unknown webhook endpoint.", 404)
    if connection.status == ConnectionStatus.REVOKED:
        return _plain("This webhook endpoint was revoked.", 410)
    return _plain("Webhook ingestion is not available yet.", 503)
