"""Settings for Custory; everything that differs between machines comes from the environment."""

import hashlib
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from custory.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "custory-insecure-local-development-key-only-for-debug"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# A failed CSRF check gets our 403 page in our layout, not Django's bare one.
CSRF_FAILURE_VIEW = "custory.views.csrf_failure"

# The absolute base URL that webhook URLs and email links are built from.
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "django_htmx",
    "template_partials",
    "django_q",
    "csp",
    "custory",
    "journeys",
    "billing",
    "tasks",
    "billing.pipeline",
]

# What a new workspace gets, in order: each is called with workspace=… (custory.services).
WORKSPACE_DEFAULTS = [
    "journeys.services.journey_install_default",
    "tasks.services.task_rules_install_default",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "custory.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "custory.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "custory.context_processors.workspace",
                "tasks.context_processors.my_open_tasks",
            ],
            "builtins": [
                "custory.templatetags.money",
                "custory.templatetags.formatting",
                "custory.templatetags.icons",
                "custory.templatetags.ui",
            ],
        },
    },
]

WSGI_APPLICATION = "custory.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'custory.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and the Django-Q cluster read while the other writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # SQLite keeps the covering indexes' key columns and drops their INCLUDE columns: the
    # index still serves, so the warning would only alarm every manage.py run of the demo.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    # PostgreSQL's JIT compiles any plan its cost model finds large (a sort over every
    # customer) for up to a second: a loss for a web app's short queries.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "custory.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# Sign-in: email and password, no usernames (django-allauth).
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# Mandatory verification is what lets allauth's enumeration prevention cover sign-up: an address
# that has an account gets the same "check your email" answer as a new one (README, trade-off).
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory").strip().lower()
if ACCOUNT_EMAIL_VERIFICATION not in {"mandatory", "optional", "none"}:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be mandatory, optional or none.")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Custory <noreply@custory.local>")

# allauth counts failed logins in the default cache, so it must be one every web process and host
# shares: Redis when REDIS_URL is set (below), else the database (table made by a migration).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "custory_cache",
    },
}

# Secure by default; SECURE_SSL_REDIRECT can be turned off behind a TLS-terminating proxy.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# SECURE_COOKIES=0 is for serving plain http on localhost (bin/run); never in production.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts only from our own static files, never inline; every
# template keeps its JavaScript in static/ (tests/custory/test_headers.py holds that).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # Inline style attributes (charts, Swagger UI) stay allowed; styles cannot run code.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Stripe secrets are encrypted with these Fernet keys: the first encrypts, all decrypt.
CUSTORY_ENCRYPTION_KEYS = env_list("CUSTORY_ENCRYPTION_KEYS")
if not CUSTORY_ENCRYPTION_KEYS and DEBUG:
    import base64

    # Only for local debugging: a key derived from SECRET_KEY. Without DEBUG, connecting Stripe
    # is refused with a clear message until CUSTORY_ENCRYPTION_KEYS is set (custory.crypto).
    CUSTORY_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    ]

# Stripe: the API base can be pointed at a local server speaking Stripe's wire format (tests).
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_WEBHOOK_TOLERANCE = 300
STRIPE_WEBHOOK_MAX_BYTES = 256 * 1024

# Outbound webhooks: private, loopback and link-local addresses are refused unless this is set
# (local development and tests only); each delivery attempt waits this long for an answer.
CUSTORY_OUTBOUND_ALLOW_PRIVATE = env_bool("CUSTORY_OUTBOUND_ALLOW_PRIVATE", default=False)
CUSTORY_OUTBOUND_TIMEOUT_SECONDS = 10
# The event types endpoints can subscribe to: core resolves this name, it imports no domain app.
CUSTORY_OUTBOUND_EVENT_TYPES = "tasks.outbound_events.event_type_choices"

# Plain WSGI handlers in front of Django (custory.fast_routes): the Stripe webhook's ack skips
# the middleware and URL resolving on PostgreSQL. An empty value turns the fast path off.
CUSTORY_WSGI_FAST_ROUTES = (
    {"/hooks/stripe/": "billing.pipeline.webhook_fast.stripe_webhook_app"}
    if env_bool("CUSTORY_WEBHOOK_FAST_PATH", default=True)
    else {}
)

# Ingestion: events claimed per batch, and how long a claim lasts before the sweep takes it back.
CUSTORY_EVENT_BATCH_SIZE = env_int("CUSTORY_EVENT_BATCH_SIZE", 800)
# Events applied in one transaction (one commit); a failure replays the group event by event.
CUSTORY_EVENT_GROUP_SIZE = env_int("CUSTORY_EVENT_GROUP_SIZE", 400)
CUSTORY_EVENT_LEASE_SECONDS = env_int("CUSTORY_EVENT_LEASE_SECONDS", 300)
# The ECB's daily euro reference rates (CSV, or a zip of one); empty: bundled history only.
CUSTORY_ECB_RATES_URL = env_str(
    "CUSTORY_ECB_RATES_URL", "https://www.ecb.europa.eu/stats/eurofxref/eurofxref.zip"
)

# History import from Stripe objects: reads per second (Stripe's documented read limits are
# 25/s in test mode and 100/s in live mode), parallel listings, and time slices per type.
# CUSTORY_IMPORT_RATE, when set, overrides both (benchmarks, a raised limit from Stripe).
CUSTORY_IMPORT_RATE = env_int("CUSTORY_IMPORT_RATE", 0)
CUSTORY_IMPORT_RATE_TEST = env_int("CUSTORY_IMPORT_RATE_TEST", 25)
CUSTORY_IMPORT_RATE_LIVE = env_int("CUSTORY_IMPORT_RATE_LIVE", 100)
CUSTORY_IMPORT_WORKERS = env_int("CUSTORY_IMPORT_WORKERS", 4)
CUSTORY_IMPORT_SLICES = env_int("CUSTORY_IMPORT_SLICES", 4)
# Objects per listed page: Stripe's maximum, 100 (tests ask for fewer, to have more pages).
CUSTORY_IMPORT_PAGE_SIZE = env_int("CUSTORY_IMPORT_PAGE_SIZE", 100)
# A running import whose process stopped beating this long ago may be taken over.
CUSTORY_IMPORT_LEASE_SECONDS = env_int("CUSTORY_IMPORT_LEASE_SECONDS", 60)

# Django-Q2: the ORM broker on the same database by default, Redis when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL")
Q_CLUSTER = {
    "name": "custory",
    "workers": env_int("Q_WORKERS", 2),
    # retry must stay above timeout, or a job still running is handed to a second worker.
    "timeout": env_int("Q_TIMEOUT", 120),
    "retry": env_int("Q_RETRY", 180),
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 1000,
    "catch_up": False,
    "poll": 0.2,
    "label": "Django-Q",
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY must be larger than Q_TIMEOUT (Django-Q2's rule).")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "custory",
    }
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The stripe library logs request and response bodies at INFO/DEBUG: never payloads.
        "stripe": {"level": "WARNING"},
        # Rejected webhooks are logged by billing.pipeline.webhooks with a one-line reason instead.
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "custory.api_auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["custory.api_auth.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": env_str("API_THROTTLE_RATE", "600/min")},
    "EXCEPTION_HANDLER": "custory.api_errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "custory.api_schema.CustoryAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Custory API",
    "DESCRIPTION": (
        "Revenue signals on the customer journey, follow-up tasks and evidence from product and "
        "support tools. Authenticate with `Authorization: Bearer <token>` (Settings → API tokens) "
        "or a signed-in browser session. Every path is scoped to one workspace; another "
        "workspace's object answers 404. Lists use cursor pagination: follow `next`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "SignalKindEnum": "billing.models.SignalKind",
        "EventStatusEnum": "billing.models.EventStatus",
        "TaskStatusEnum": "tasks.models.TaskStatus",
        "TaskPriorityEnum": "tasks.models.TaskPriority",
        "RoleEnum": "custory.models.Role",
    },
}
