"""A refused secret key gets a short error that points at the permission table above it."""

from django.urls import reverse

from billing.pipeline.connections import REQUIRED_PERMISSIONS


def test_the_secret_key_error_does_not_repeat_the_permission_table(client_for, admin, workspace):
    data = {
        "label": "",
        "mode": "live",
        "webhook_secret": "whsec_" + "a" * 32,
        "api_key": "sk_live_51AcmeFullSecretKey000000000000",
    }
    url = reverse("billing:stripe_settings", args=[workspace.slug])
    body = client_for(admin).post(url, data).content.decode()
    assert "full secret key" in body
    for permission in REQUIRED_PERMISSIONS:
        assert body.count(permission.why) == 1, permission.why
