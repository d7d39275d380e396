"""Failed-login limits hold across web processes, and the Django admin signs in through them."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

from custory import settings as production
from tests.factories import UserFactory

from ..conftest import PASSWORD

SHARED_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "custory_cache",
    }
}


@pytest.fixture
def limits_on(db, settings):
    """Production's limits and cache: the counters live in the database, not in this process."""
    settings.CACHES = SHARED_CACHE
    settings.ACCOUNT_RATE_LIMITS = production.ACCOUNT_RATE_LIMITS
    cache.clear()
    yield
    cache.clear()


def _login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_the_sixth_attempt_is_refused_whichever_process_answers(limits_on, admin):
    # Two clients stand for two gunicorn workers: nothing is shared between them but the database.
    workers = [Client(), Client()]
    for attempt in range(5):
        response = _login(workers[attempt % 2], admin.email, "wrong")
        assert "not correct" in response.content.decode()
    for worker in workers:
        response = _login(worker, admin.email, PASSWORD)
        assert response.status_code == 200
        assert "Too many failed login attempts" in response.content.decode()
        assert "_auth_user_id" not in worker.session


def test_the_counters_are_rows_of_the_database_cache(limits_on, admin):
    _login(Client(), admin.email, "wrong")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM custory_cache")
        assert cursor.fetchone()[0] >= 1


def test_fewer_than_five_failures_still_let_the_right_password_in(limits_on, admin):
    for _ in range(4):
        _login(Client(), admin.email, "wrong")
    client = Client()
    assert _login(client, admin.email, PASSWORD).status_code == 302
    assert "_auth_user_id" in client.session


def _cache_backend(**env) -> str:
    code = "import json, custory.settings as s; print(json.dumps(s.CACHES['default']))"
    base = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "SECRET_KEY": "x", **env},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)["BACKEND"]


def test_production_shares_the_cache_in_the_database_or_in_redis():
    assert _cache_backend() == "django.core.cache.backends.db.DatabaseCache"
    assert _cache_backend(REDIS_URL="redis://127.0.0.1:6379/11").endswith("RedisCache")


def test_the_admin_login_page_is_allauths(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_passwords_posted_to_the_admin_login_are_never_checked(client, db):
    staff = UserFactory(email="ops@custory.test", is_staff=True, is_superuser=True)
    for _ in range(30):
        client.post("/admin/login/", {"username": staff.email, "password": "wrong"})
    response = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_admin_login_is_limited_like_every_login(limits_on, db):
    staff = UserFactory(email="ops@custory.test", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(5):
        _login(client, staff.email, "wrong")
    assert "Too many failed" in _login(client, staff.email, PASSWORD).content.decode()
    assert client.get("/admin/").status_code == 302


def test_staff_signed_in_through_allauth_reach_the_admin(client, db):
    staff = UserFactory(email="ops@custory.test", is_staff=True, is_superuser=True)
    assert _login(client, staff.email, PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_signed_in_user_who_is_not_staff_is_refused_the_admin_login(client, admin):
    client.force_login(admin)
    assert client.get("/admin/login/").status_code == 403
