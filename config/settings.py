"""Keepline settings: one file, driven by the environment variables listed in .env.example."""

import datetime
import os
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KEEPLINE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.env_bool("DEBUG", default=True)
SECRET_KEY = env.secret_key(DEBUG)
ALLOWED_HOSTS = env.allowed_hosts(env.env_list("ALLOWED_HOSTS", "127.0.0.1,localhost"))
CSRF_TRUSTED_ORIGINS = env.env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "config.admin_apps.KeeplineAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "channels",
    "accounts",
    "audit",
    "crm",
    "comms",
    "connectors",
    "governance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.security_headers.PermissionsPolicyMiddleware",
    "audit.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserSessionMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.errors.ServiceErrorMiddleware",
]
# Every response carries this Content-Security-Policy (django-csp; Django 6.0 builds it in as
# SECURE_CSP) and a Permissions-Policy (config/security_headers.py). No inline script, style or
# on*= handler anywhere: templates load static/js and static/css and hand data over through
# json_script or data- attributes; tests/test_security_headers.py fails on anything it would block.
# connect-src 'self' covers the chat's ws:/wss: to this same host (CSP Level 3: Chrome 71+, Firefox,
# Safari 16+). /api/docs/ alone adds data: images (config/urls.py). django-csp sends no header on
# a 404 or 500 while DEBUG is on, so Django's technical pages keep their inline styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": env.database(os.environ.get("DATABASE_URL"), str(VAR_DIR / "keepline.sqlite3"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    # has_perm(perm, obj) on a CRM record is the CRM policy's answer, not guardian's share tables
    # alone (guardian stores the shares; its backend would disagree with ownership and roles).
    "crm.auth_backend.PolicyBackend",
]
# guardian.W001 asks for guardian's backend, deliberately replaced above.
SILENCED_SYSTEM_CHECKS = ["guardian.W001"]
# No anonymous guardian user: every permission belongs to a real person.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Brute-force protection (accounts/sign_in_throttle.py): failed sign-ins per username and per
# client address, and failed API token authentications per address, within a window; past a
# limit that username or address is locked. 0 turns a limit off.
SIGN_IN_FAILURES_PER_USERNAME = env.env_int("SIGN_IN_FAILURES_PER_USERNAME", 5)
SIGN_IN_FAILURES_PER_ADDRESS = env.env_int("SIGN_IN_FAILURES_PER_ADDRESS", 50)
SIGN_IN_FAILURE_WINDOW_SECONDS = env.env_int("SIGN_IN_FAILURE_WINDOW_SECONDS", 900)
SIGN_IN_LOCKOUT_SECONDS = env.env_int("SIGN_IN_LOCKOUT_SECONDS", 900)
API_TOKEN_FAILURES_PER_ADDRESS = env.env_int("API_TOKEN_FAILURES_PER_ADDRESS", 50)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish")), ("pt-br", _("Brazilian Portuguese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and times: one shape in every language (config/formats/<locale>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
# Working hours of a new person (accounts.working_hours; each person changes theirs): ISO
# weekdays (1 = Monday) and wall-clock times in their own time zone.
WORKING_HOURS_DEFAULT_DAYS = os.environ.get("WORKING_HOURS_DEFAULT_DAYS", "12345")
WORKING_HOURS_DEFAULT_START = os.environ.get("WORKING_HOURS_DEFAULT_START", "09:00")
WORKING_HOURS_DEFAULT_END = os.environ.get("WORKING_HOURS_DEFAULT_END", "18:00")
for _name in ("WORKING_HOURS_DEFAULT_START", "WORKING_HOURS_DEFAULT_END"):
    try:
        datetime.time.fromisoformat(globals()[_name])
    except ValueError:
        raise ImproperlyConfigured(f"{_name} must be a time such as 09:00.") from None
if not WORKING_HOURS_DEFAULT_DAYS or set(WORKING_HOURS_DEFAULT_DAYS) - set("1234567"):
    raise ImproperlyConfigured("WORKING_HOURS_DEFAULT_DAYS must be ISO weekday digits, e.g. 12345.")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Template fragments that are the same for everyone of a language and role (the navigation, the
# language menu, the page's fixed strings: templates/base.html), kept in each process. They change
# only with the code, so nothing invalidates them but a restart; nothing per person goes in.
FRAGMENTS_CACHE = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "keepline-fragments",
    "TIMEOUT": 86400,
    "OPTIONS": {"MAX_ENTRIES": 1000},
}

# --- Redis: channel layer, cache, Celery. Unset means the embedded, single-process defaults. ---
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # The pub/sub layer delivers groups ~8x faster than the default layer (shared/PERFORMANCE.md);
    # the database is the record, so its lack of capacity limits loses nothing durable.
    # Redis pub/sub ignores the database number: two deployments (or test runs) sharing one Redis
    # on different databases would hear each other's broadcasts. The prefix keeps them apart.
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's pub/sub layer, surviving Redis going away (config.channel_layer).
            "BACKEND": "config.channel_layer.ResilientPubSubChannelLayer",
            "CONFIG": {
                # A Redis that stops answering fails a publish in seconds (the layer then tells
                # pages live updates paused), never holds acks for the OS's TCP timeout.
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2, "socket_timeout": 5}],
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX")
                or f"keepline{env.redis_db(REDIS_URL)}",
            },
        }
    }
    # Counters and "done recently" marks only, never a record nor an authorisation: with Redis
    # away, reads miss and writes are dropped within REDIS_CACHE_TIMEOUT_S (config/cache.py).
    CACHES = {
        "fragments": FRAGMENTS_CACHE,
        "default": {
            "BACKEND": "config.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "keepline",
            "OPTIONS": {
                "socket_connect_timeout": env.env_float("REDIS_CACHE_TIMEOUT_S", 0.25),
                "socket_timeout": env.env_float("REDIS_CACHE_TIMEOUT_S", 0.25) * 2,
            },
        },
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "fragments": FRAGMENTS_CACHE,
    }

CELERY_BROKER_URL = REDIS_URL or "memory://"
# No result backend: nothing reads a task's return value. Celery keeps a backend per thread and
# Django's ASGI handler runs each request on a new thread, so a Redis backend cost every request
# that queued a task a new Redis client and connection (2-4 ms; bench/inbound_webhooks.py).
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# What a failure does to a task (docs/operations.md). Acknowledged once it ran: a worker killed
# mid-task (SIGKILL, out of memory, a lost host) has its task delivered again, so every task is
# idempotent by a unique key on its effect (audit checkpoints: one per chain head and key). One
# task reserved per worker process: a killed worker strands nothing else.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis hands a message nobody acknowledged within the visibility timeout to another worker,
# even while the first still runs it. So a task is stopped (time limits) well before that, and
# nothing is queued with a countdown or ETA further ahead than it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.env_int("CELERY_VISIBILITY_TIMEOUT_S", 3600)
}
CELERY_TASK_SOFT_TIME_LIMIT = env.env_int("CELERY_TASK_SOFT_TIME_LIMIT_S", 240)
CELERY_TASK_TIME_LIMIT = env.env_int("CELERY_TASK_TIME_LIMIT_S", 300)
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT_S must be below CELERY_VISIBILITY_TIMEOUT_S: a task still running "
        "when its message becomes visible again would run twice at once."
    )
# A worker that loses Redis stops what it runs: the unacknowledged message is delivered again.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
AUDIT_CHECKPOINT_EVERY_S = env.env_int("AUDIT_CHECKPOINT_EVERY_S", 300)
AUDIT_VERIFY_HOUR_UTC = env.env_int("AUDIT_VERIFY_HOUR_UTC", 3)  # the nightly verify_audit
AUDIT_VERIFY_MINUTE = 17
if not 0 <= AUDIT_VERIFY_HOUR_UTC <= 23:
    raise ImproperlyConfigured("AUDIT_VERIFY_HOUR_UTC must be an hour, 0 to 23.")
CELERY_BEAT_SCHEDULE: dict = {
    "audit-checkpoint": {
        "task": "audit.tasks.checkpoint_create",
        "schedule": AUDIT_CHECKPOINT_EVERY_S,
        # Runs queued while no worker was up are dropped once the next one is due: one signs
        # the head as well as ten.
        "options": {"expires": AUDIT_CHECKPOINT_EVERY_S},
    },
    # The whole ledger, its witnesses and the record verified nightly, the outcome kept for the
    # compliance console (audit/verification_runs.py). Dropped if not started within the hour.
    "audit-verify": {
        "task": "audit.tasks.verify_ledger",
        "schedule": crontab(minute=AUDIT_VERIFY_MINUTE, hour=AUDIT_VERIFY_HOUR_UTC),
        "options": {"expires": 3600},
    },
    # Inbound events whose retry is due or whose drain was lost (connectors/inbound.py).
    "inbound-events-due": {
        "task": "connectors.tasks.inbound_events_due",
        "schedule": 30,
        "options": {"expires": 30},
    },
    # Outbound deliveries whose retry is due or whose task was lost (connectors/outbound.py);
    # each is sent at most once whatever runs it.
    "connectors-outbound-due": {
        "task": "connectors.tasks.outbound_send_due",
        "schedule": 30,
        "options": {"expires": 30},
    },
    # Email accounts with an IMAP host: unseen mail read in (connectors/imap_poll.py). A run not
    # started within the minute is dropped; the next one reads the same mail.
    # Notifications held back outside their person's working hours, released when due
    # (accounts/notifications.py); each is sent once whatever runs it.
    "accounts-notifications-release": {
        "task": "accounts.tasks.notifications_release",
        "schedule": 60,
        "options": {"expires": 60},
    },
    "connectors-imap-poll": {
        "task": "connectors.tasks.email_accounts_poll",
        "schedule": 60,
        "options": {"expires": 60},
    },
    # Nightly retention purge (governance/retention.py) at RETENTION_PURGE_HOUR UTC; a run not
    # started within the hour is dropped, the next night's purges what it would have.
    "governance-retention-purge": {
        "task": "governance.tasks.retention_purge",
        "schedule": crontab(minute=30, hour=env.env_int("RETENTION_PURGE_HOUR", 2)),
        "options": {"expires": 3600},
    },
    # Mondays 02:00: last week's review sample (governance/services/review.py); run again, it
    # adds nothing.
    "governance-review-sample": {
        "task": "governance.tasks.review_sample_weekly",
        "schedule": crontab(minute=0, hour=2, day_of_week="mon"),
        "options": {"expires": 24 * 3600},
    },
}
# A retention run stops after this many seconds (below CELERY_TASK_SOFT_TIME_LIMIT_S) and says
# so in its audit event; the next run goes on where it stopped.
RETENTION_PURGE_MAX_SECONDS = env.env_int("RETENTION_PURGE_MAX_SECONDS", 180)
# Supervision: the share (percent) of each rep's conversations of a week sampled for review.
REVIEW_SAMPLE_PERCENT = float(os.environ.get("REVIEW_SAMPLE_PERCENT", "5"))

# --- Audit ledger: the Ed25519 key that signs checkpoints (audit/signing.py, README). ---
AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY", "")
AUDIT_SIGNING_KEY_FILE = os.environ.get("AUDIT_SIGNING_KEY_FILE", "")
# Directories (comma-separated), each best on another machine, that keep a copy of every signed
# checkpoint; verify_audit holds the chain to them (audit/witness.py, docs/operations.md).
AUDIT_WITNESS_DIRS = [
    d.strip() for d in os.environ.get("AUDIT_WITNESS_DIRS", "").split(",") if d.strip()
]
# Where compliance exports (zips) are written; only the console serves them, never MEDIA_URL.
GOVERNANCE_EXPORT_DIR = Path(os.environ.get("GOVERNANCE_EXPORT_DIR", VAR_DIR / "exports"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Personal API tokens (accounts.ApiToken): "Authorization: Bearer kl_...", stored as a hash.
        # First, so an unauthenticated call is a 401 with a WWW-Authenticate header.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.AutoSchema",
    # config.errors: a service's refusal is one JSON shape and status on every endpoint.
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    # config.ids' <id:...> path converter: a 64-bit id.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
    "TITLE": "Keepline API",
    "DESCRIPTION": (
        "Companies, contacts, deals, activities and pipelines; conversations and their messages; "
        "the audit ledger."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ConversationKindEnum": "comms.models.Conversation.Kind",
        "ConversationStatusEnum": "comms.models.Conversation.Status",
        "DataSubjectRequestKindEnum": "governance.models.dsr.DataSubjectRequest.Kind",
        "DataSubjectRequestStatusEnum": "governance.models.dsr.DataSubjectRequest.Status",
        # Choice sets the API spells as lists of values.
        "ReviewItemStatusEnum": ["open", "reviewed", "escalated"],
        "MessageStatusEnum": ["queued", "sent", "delivered", "read", "failed"],
        "ExportJobStatusEnum": "governance.models.search.ExportJob.Status",
    },
}
# Phone numbers typed without a country code are read as numbers of this region.
CRM_DEFAULT_PHONE_REGION = os.environ.get("CRM_DEFAULT_PHONE_REGION", "US")
# A new contact sharing an email or phone with one the user may open: "warn" (name it, save on
# confirmation) or "refuse" (never save a duplicate). Duplicates the user may not open are never
# named: under "warn" the contact is saved, under "refuse" it is refused naming nothing.
CRM_DUPLICATE_CONTACTS = os.environ.get("CRM_DUPLICATE_CONTACTS", "warn")
# CSV imports, previews included, per user per hour (each one probes for duplicates).
CRM_IMPORTS_PER_HOUR = env.env_int("CRM_IMPORTS_PER_HOUR", 30)

# --- Security. Production (DEBUG off) defaults are HTTPS-only; each can be relaxed by env. ---
SESSION_COOKIE_SECURE = env.env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.env_bool("BEHIND_TLS_PROXY", default=not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies whose X-Forwarded-For entries are believed (audit/client_address.py). Empty: none, the
# TCP peer is the client. USE_X_FORWARDED_HOST stays off: the balancer passes Host through.
TRUSTED_PROXIES = env.ip_networks("TRUSTED_PROXIES", env.env_list("TRUSTED_PROXIES", ""))
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# --- Customer channels (connectors) ---
# Comma-separated Fernet keys encrypting channel account secrets: the first encrypts, all decrypt
# (rotation). Unset: a key derived from SECRET_KEY, demo only (check --deploy warns).
KEEPLINE_CHANNEL_KEYS = env.env_list("KEEPLINE_CHANNEL_KEYS", "")
# Webhook bodies (WhatsApp JSON, Twilio forms) above this are refused with 413. Inbound email
# (raw MIME with its attachments) has its own limit, by default the attachment limit + 1 MiB.
CONNECTORS_WEBHOOK_MAX_BYTES = 1024 * 1024

# --- Conversations (comms) ---
ORGANISATION_NAME = os.environ.get("ORGANISATION_NAME", "Keepline Demo Co.")
COMMS_EDIT_WINDOW_SECONDS = env.env_int("COMMS_EDIT_WINDOW_SECONDS", 900)
COMMS_MAX_BODY = 10_000
COMMS_ATTACHMENT_MAX_BYTES = env.env_int("COMMS_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024)
CONNECTORS_EMAIL_MAX_BYTES = env.env_int(
    "CONNECTORS_EMAIL_MAX_BYTES", COMMS_ATTACHMENT_MAX_BYTES + 1024 * 1024
)
COMMS_ATTACHMENT_TYPES = [
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "audio/mpeg",
    "audio/ogg",
    "video/mp4",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
]
COMMS_CUSTOMER_LINK_SECONDS = env.env_int("COMMS_CUSTOMER_LINK_SECONDS", 7 * 24 * 3600)
# Sends per socket: a token bucket refilled at RATE per second up to BURST.
COMMS_SEND_RATE = env.env_int("COMMS_SEND_RATE", 50)
COMMS_SEND_BURST = env.env_int("COMMS_SEND_BURST", 200)
# A socket's `read` frames are coalesced: at most one read-state write per this many seconds.
COMMS_READ_EVERY_SECONDS = float(os.environ.get("COMMS_READ_EVERY_SECONDS", "1"))
# Bytes daphne may hold for one socket whose client stopped reading; past it the socket is
# closed with 4408 (reconnect and catch up). config/ws_limits.py.
COMMS_SOCKET_BUFFER_BYTES = env.env_int("COMMS_SOCKET_BUFFER_BYTES", 1024 * 1024)
# Presence: every open chat socket says "still here" this often (seconds, jittered); a socket not
# heard from for 2.5 times as long (its daphne process died) drops out of everyone's list.
COMMS_PRESENCE_REFRESH_SECONDS = env.env_int("COMMS_PRESENCE_REFRESH_SECONDS", 30)
# Request bodies: JSON and form fields stay small (a 10,000-character message is ~40 KB); files
# stream to a temporary file above 2.5 MB and are refused above COMMS_ATTACHMENT_MAX_BYTES.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Data-subject requests (governance) ---
# Days to answer a request, per law, counted from its receipt: GDPR art. 12(3) one month (30
# days here); LGPD art. 19, II fifteen days for the complete answer to an access request.
DSR_RESPONSE_DAYS = {
    "gdpr": env.env_int("DSR_RESPONSE_DAYS_GDPR", 30),
    "lgpd": env.env_int("DSR_RESPONSE_DAYS_LGPD", 15),
}
# An open request due within this many days is marked "due soon" in the list.
DSR_DUE_SOON_DAYS = env.env_int("DSR_DUE_SOON_DAYS", 7)
# A statutory duty to keep a customer's records (commercial and tax law: e.g. 6 years in Spain,
# 5 in Brazil) for this many days after a deal with them was won: erasure is refused while one is
# younger, and processing restricted instead. 0: no such duty is applied.
DSR_RETENTION_DUTY_DAYS = env.env_int("DSR_RETENTION_DUTY_DAYS", 0)

# --- Installable staff app and Web Push (config/pwa.py, accounts/push.py) ---
# VAPID keys (`python manage.py vapid_keys` prints a pair): the public key as the browser's
# applicationServerKey (base64url, uncompressed P-256 point), the private key as base64url DER or
# PEM, the subject a mailto: or https: contact for the push services. Unset: push is off and no
# page mentions it.
VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY", "").strip()
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "").strip()
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "").strip()
# Seconds a push service keeps an undelivered notification (the phone is off).
PUSH_TTL_SECONDS = env.env_int("PUSH_TTL_SECONDS", 12 * 3600)
# The server POSTs to a subscription's endpoint: only the browsers' push services (and their
# subdomains), over https, so a made-up endpoint cannot make it call inside the network.
PUSH_ENDPOINT_HOSTS = env.env_list(
    "PUSH_ENDPOINT_HOSTS",
    "fcm.googleapis.com,push.services.mozilla.com,notify.windows.com,push.apple.com",
)
PUSH_ENDPOINT_SCHEMES = ["https"]
# The service worker's cache name: derived from the app shell's files (a deploy that changes
# one changes it); set to force a new one.
PWA_CACHE_VERSION = os.environ.get("PWA_CACHE_VERSION", "").strip()
