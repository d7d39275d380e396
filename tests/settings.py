"""Settings for the test suite: production settings with test-only secrets and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")
# A fixed Fernet key so encrypted test data is reproducible; production sets its own.
os.environ.setdefault("CUSTORY_ENCRYPTION_KEYS", "Qt7EAvo1N1EDwXzWvS8MwmyGXNtHY6PTNj3J0Zyv6Ww=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# The API's per-token throttle is tested on its own (tests/custory/test_api_tokens.py).
os.environ.setdefault("API_THROTTLE_RATE", "100000/min")

from custory.settings import *  # noqa: E402, F403
from custory.settings import STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ACCOUNT_RATE_LIMITS = {}
# A per-process cache keeps the suite fast and its query budgets exact; the tests of the shared
# failed-login limit switch to the database cache (tests/custory/test_login_limits.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Jobs run inline in tests unless a test starts a real cluster.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
# The fake Stripe API has no rate limit; tests of the budget set their own.
CUSTORY_IMPORT_RATE = 100000
