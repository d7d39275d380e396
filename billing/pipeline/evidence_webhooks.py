"""The inbound evidence webhook of a source (PostHog's webhook destination), signed per source.

Answers: 200 with {"received", "created"} (a redelivery creates nothing), 400 with a one-line
reason (bad signature, not JSON, not PostHog's shape, no customer), 404 unknown endpoint, 410
revoked, 413 over 256 KiB. The body and the signature are never logged.
"""

import json
import logging

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.evidence import EvidenceError
from billing.pipeline.evidence_hooks import SIGNATURE_HEADER, posthog_receive, signature_valid
from custory.models import InboundWebhook

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


@csrf_exempt
@require_POST
def evidence_webhook(request: HttpRequest, endpoint) -> JsonResponse:
    source = get_object_or_404(InboundWebhook.objects.select_related("workspace"), uuid=endpoint)
    if source.revoked_at is not None:
        return _error("This evidence webhook was revoked.", 410)
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
        return _error("The body is larger than 256 KiB.", 413)
    body = request.body
    if not signature_valid(source, body, request.headers.get(SIGNATURE_HEADER, "")):
        logger.info("evidence webhook %s rejected: bad or missing signature", source.uuid)
        return _error(f"Missing or invalid {SIGNATURE_HEADER} (sha256=<hex HMAC>).", 400)
    try:
        payload = json.loads(body)
        result = posthog_receive(hook=source, payload=payload)
    except ValueError as error:
        message = str(error) if isinstance(error, EvidenceError) else "The body is not JSON."
        logger.info("evidence webhook %s rejected: %s", source.uuid, message)
        return _error(message, 400)
    return JsonResponse({"received": result.received, "created": result.created})
