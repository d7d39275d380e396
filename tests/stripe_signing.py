"""Sign a webhook body the way Stripe does, for replaying events through the real webhook view."""

import hashlib
import hmac
import time


def sign_payload(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Return a Stripe-Signature header value: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    signed = f"{timestamp}.".encode() + body
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"
