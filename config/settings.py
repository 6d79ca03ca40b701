"""One settings module for every environment; every environment-dependent value comes from the
environment variables listed in API.md "Settings" (plus a few documented extras)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# A missing secret is fine for tests and `./dev serve`; a production process (gunicorn, a Celery
# worker) refuses to start on this default or without a key (config.safety).
LOCAL_ONLY_SECRET_KEY = "insecure-local-only-key-change-me-in-production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=LOCAL_ONLY_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our own static files
    "django_celery_beat",
    "axes",
    "csp",
    "valuation",
    "fintech",
]

MIDDLEWARE = [
    "config.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise, so static files get X-Frame-Options and the Content-Security-Policy too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.AuditRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # transactions belong to services (STYLE.md rule 4)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Let concurrent writers wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "fintech.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# Request bodies: API.md answers over 10 MB with 413 (config.middleware).
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# Security: production defaults; local runs set DJANGO_SECURE_SSL_REDIRECT=off and DJANGO_DEBUG=on.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# Proxy headers (X-Forwarded-Proto, X-Forwarded-For) are trusted only when DJANGO_NUM_PROXIES says
# how many proxies stand in front; without it a client could claim HTTPS or any address.
NUM_PROXIES = env.int("DJANGO_NUM_PROXIES", default=0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if NUM_PROXIES > 0 else None
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# The cache holds the login throttle's counts, so every process must share it: CACHE_URL, else the
# Redis the broker uses (keys under their own prefix; clearing the cache leaves the queues alone),
# else (no broker: one process) memory.
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
elif env.str("CELERY_BROKER_URL", default="").startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "config.cache.PrefixedRedisCache",
            "LOCATION": env.str("CELERY_BROKER_URL"),
            "KEY_PREFIX": "pp-cache",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Content-Security-Policy (django-csp): only this origin. The API docs (Swagger UI, ReDoc) come from
# drf-spectacular-sidecar's static files; ReDoc runs its search in a worker made from a blob.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "worker-src": ["'self'", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Account lockout (django-axes, API.md "Auth"): a username is locked after AXES_FAILURE_LIMIT failed
# sign-ins within AXES_COOLOFF_MINUTES, for that long, whatever the addresses they came from (423);
# the per-address throttle is separate (AUTH_THROTTLE_RATE).
# Locks are shown and released in the admin (Axes > Access attempts: delete to release).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.middleware.client_ip"
AXES_LOCKOUT_CALLABLE = "config.middleware.account_locked_response"
AXES_VERBOSE = False
# axes.W006 wants the address in the lockout too: here the per-address limit is the DRF throttle, and
# a lock per username alone holds against guesses spread over many addresses.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

if env.str("EMAIL_URL", default=""):
    vars().update(env.email("EMAIL_URL"))
else:  # the console: notifications are printed, not sent
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@patent-pledge.local")

REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["fintech.api.permissions.ActiveMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": [
        "config.api.DecimalJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("AUTH_THROTTLE_RATE", default="20/min"),
        "refresh": env.str("REFRESH_THROTTLE_RATE", default="120/min"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    # How many proxies sit in front of the app: X-Forwarded-For is trusted only that far (throttling).
    "NUM_PROXIES": NUM_PROXIES,  # X-Forwarded-For only behind DJANGO_NUM_PROXIES proxies
    "DEFAULT_METADATA_CLASS": "config.api.Metadata",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Patent-pledge financing API (Wuhan model)",
    "DESCRIPTION": "SMEs, appraisers, insurers, banks and regulators; the guide is docs/api.md.",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",  # 3.1: the `webhooks` section (the event catalogue)
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # The API explorer works offline: Swagger UI and ReDoc come from drf-spectacular-sidecar's
    # static files (no CDN), so an integrator behind a firewall sees the whole page.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The event catalogue: one webhook per event type (fintech.api.events.WEBHOOKS).
    "WEBHOOKS": "fintech.api.events.WEBHOOKS",
    "ENUM_NAME_OVERRIDES": {"WebhookEndpointStatusEnum": "fintech.models.events.EndpointStatus"},
}

# Celery: no broker configured means tasks run in process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or None
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The chunk engine (fintech.services.batch): a chunk task's soft and hard time limits (seconds), its
# retries of a transient database error (back-off BATCH_RETRY_BACKOFF x 2^n s), and the watchdog's
# heartbeat deadline (above the hard limit: a chunk past it is not at work any more) and attempts
# before it fails the run.
BATCH_SOFT_TIME_LIMIT = env.int("BATCH_SOFT_TIME_LIMIT", default=240)
BATCH_TIME_LIMIT = env.int("BATCH_TIME_LIMIT", default=300)
BATCH_MAX_RETRIES = env.int("BATCH_MAX_RETRIES", default=5)
BATCH_RETRY_BACKOFF = env.float("BATCH_RETRY_BACKOFF", default=1.0)
BATCH_HEARTBEAT_SECONDS = env.int("BATCH_HEARTBEAT_SECONDS", default=360)
BATCH_MAX_ATTEMPTS = env.int("BATCH_MAX_ATTEMPTS", default=5)
BATCH_WATCHDOG_SECONDS = env.int("BATCH_WATCHDOG_SECONDS", default=60)

# Webhooks (docs/operations.md "Webhook relay"). Endpoints on private, loopback or link-local
# addresses (and plain http) only where WEBHOOK_ALLOW_PRIVATE_HOSTS is on: tests, private deployments.
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Seconds before retry n (Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h;
# about 27 hours in all), then the delivery is dead-lettered.
WEBHOOK_RETRY_SCHEDULE = [
    int(x)
    for x in env.list(
        "WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"]
    )
]
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
WEBHOOK_RELAY_SECONDS = env.int("WEBHOOK_RELAY_SECONDS", default=10)  # beat's period of the relay
WEBHOOK_RELAY_BUDGET_SECONDS = env.float("WEBHOOK_RELAY_BUDGET_SECONDS", default=50.0)
WEBHOOK_RELAY_BATCH = env.int("WEBHOOK_RELAY_BATCH", default=200)  # lanes claimed per batch
WEBHOOK_RELAY_LANE_DEPTH = env.int("WEBHOOK_RELAY_LANE_DEPTH", default=20)  # followers per lane
WEBHOOK_RELAY_THREADS = env.int("WEBHOOK_RELAY_THREADS", default=8)
# A claimed batch's lease: no other relay takes its rows before it ends, and this relay starts no
# POST that could end after it (so it must exceed WEBHOOK_TIMEOUT_SECONDS + 2); a relay that dies
# leaves its rows to be sent again once it has passed.
WEBHOOK_RELAY_LEASE_SECONDS = env.float("WEBHOOK_RELAY_LEASE_SECONDS", default=60.0)
# With a broker, a commit that owes deliveries queues the relay at once (beat is the safety net).
WEBHOOK_RELAY_ON_COMMIT = env.bool(
    "WEBHOOK_RELAY_ON_COMMIT", default=bool(env.str("CELERY_BROKER_URL", default=""))
)
EVENT_FEED_MAX_PAGE = 200
# With acks_late, a task whose worker died is redelivered after this many seconds; every task is
# idempotent, so a redelivery of a slow but live task is harmless. Chunks take seconds, not minutes.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600)}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # celery.app.trace logs every task at INFO: too chatty when tasks run in process (a worker
    # keeps it, so its log shows each task it ran).
    "loggers": {
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},  # failures and locks, not every lookup
        "celery.app.trace": {"level": "WARNING" if CELERY_TASK_ALWAYS_EAGER else "INFO"},
    },
}
