"""Settings shared by every environment.

Every value that comes from the environment is read here, in one place, with
django-environ. The defaults are the *embedded* platform: SQLite, local files,
Celery tasks run in-process, e-mail to the console. ``production.py`` refuses
to start without the variables a real deployment needs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import botocore.config
import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file is optional; real deployments set the environment directly.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Django: hosts, apps, middleware, templates ------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default has a fixed, clearly marked development key; production
# overrides this with a required variable.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="embedded-dev-key-not-for-production-use")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served by us, not from a CDN
    "axes",
    "csp",
    "core",
    "teams",
    "generation",
    "billing",
    "privacy",
    "delivery",
]

MIDDLEWARE = [
    # First: probes hit /healthz by pod IP, which is no allowed host, over plain HTTP.
    "core.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RefuseNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A company page's request names its company to the database (row-level security).
    "teams.middleware.CompanyScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Last, as django-axes requires, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

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
                "teams.context_processors.tenant",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# The second tenant wall (core/rls.py, README "Row-level security"): on PostgreSQL every
# tenant table has a policy that shows a role other than a superuser only the rows of the
# company its request or task names. Off, every connection opens the bypass for its whole
# session and the application wall stands alone (as on SQLite, where there is no such wall).
DB_ROW_LEVEL_SECURITY = env.bool("DB_ROW_LEVEL_SECURITY", default=False)


def database_with_rls(database: dict, *, bypass: bool) -> dict:
    """``database`` with the session-wide bypass of the wall when ``bypass`` (PostgreSQL)."""
    if bypass and "postgresql" in database.get("ENGINE", ""):
        options = dict(database.get("OPTIONS", {}))
        options["options"] = (options.get("options", "") + " -c app.rls_bypass=on").strip()
        database = {**database, "OPTIONS": options}
    return database


DATABASES["default"] = database_with_rls(DATABASES["default"], bypass=not DB_ROW_LEVEL_SECURITY)
# Migrations run as the tables' owner, the application as a role that owns nothing
# (manage.py db_roles): set DATABASE_MIGRATE_URL and run `manage.py migrate --database
# migrate`. The owner sweeps every company's rows in data migrations, so it has the bypass.
if env.str("DATABASE_MIGRATE_URL", default=""):
    DATABASES["migrate"] = database_with_rls(env.db("DATABASE_MIGRATE_URL"), bypass=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- People: accounts, sign-in, invitations ----------------------------------
AUTH_USER_MODEL = "teams.User"
TENANT_MODEL = "teams.Company"  # what every tenant-owned row belongs to (core/tenancy.py)
AUTHENTICATION_BACKENDS = [
    # Throttles password logins; must come first.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # also the lifetime of createcompany's set-password link

# Login throttling (django-axes): lock an e-mail+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "core.throttle.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The client's address behind our load balancers (core/client_ip.py): how many proxies of
# ours stand in front, or their networks. Used for the consent log and login throttling.
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
TRUSTED_PROXY_CIDRS = env.list("TRUSTED_PROXY_CIDRS", default=[])
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"

# Employees sign in with links, never passwords.
MAGIC_LINK_TTL = timedelta(minutes=env.int("MAGIC_LINK_TTL_MINUTES", default=15))
MAGIC_LINKS_PER_HOUR = env.int("MAGIC_LINKS_PER_HOUR", default=5)
INVITATION_TTL = timedelta(days=env.int("INVITATION_TTL_DAYS", default=14))
# Number of reminders sent automatically to an invitee who has not joined.
INVITATION_MAX_AUTO_REMINDERS = env.int("INVITATION_MAX_AUTO_REMINDERS", default=2)
CSV_IMPORT_MAX_ROWS = env.int("CSV_IMPORT_MAX_ROWS", default=20000)
# Rows a page on the admin lists (people, review, batches, logs): keyset pages
# (core/pagination.py), each as quick as the first whatever the size of the company.
ADMIN_LIST_PAGE_SIZE = 50

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14

# --- Files and storage --------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# No MEDIA_URL is served: private files are only ever returned by views that
# check access (local) or through short-lived signed URLs (S3).
MEDIA_URL = "/media-not-public/"

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("SIGNED_URL_TTL_SECONDS", default=300),
            # botocore presigns with SigV2 unless told otherwise, which new buckets,
            # SigV4-only regions and SSE-KMS objects refuse. boto3 1.36+ adds CRC checksums
            # to every upload and checks them on downloads, which several S3-compatible
            # stores refuse or do not send: only where an operation requires one, unless the
            # environment says otherwise (botocore's own variable names).
            "client_config": botocore.config.Config(
                signature_version="s3v4",
                request_checksum_calculation=env.str("AWS_REQUEST_CHECKSUM_CALCULATION",
                                                     default="when_required"),
                response_checksum_validation=env.str("AWS_RESPONSE_CHECKSUM_VALIDATION",
                                                     default="when_required"),
            ),
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"}
            if env.bool("AWS_S3_SSE", default=True)
            else {},
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # form fields only; files are capped separately

# --- Security headers ------------------------------------------------------------
# No inline script or style anywhere (static/ holds them all), so the policy needs no
# 'unsafe-inline'. Signed S3 URLs (selfies, photos) are images from the bucket's origin.
_bucket_origin = ""
if AWS_STORAGE_BUCKET_NAME:
    _endpoint = env.str("AWS_S3_ENDPOINT_URL", default="").rstrip("/")
    _bucket_origin = _endpoint or "https://*.amazonaws.com"
CSP_EXTRA_IMG_SRC = env.list("CSP_EXTRA_IMG_SRC", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *([_bucket_origin] if _bucket_origin else []),
                    *CSP_EXTRA_IMG_SRC],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        # Buying credits posts to us and is redirected to Stripe's pages, which form-action
        # also governs.
        "form-action": ["'self'", "https://checkout.stripe.com", "https://billing.stripe.com"],
        "frame-ancestors": ["'none'"],
        **({"report-uri": [env.str("CSP_REPORT_URI")]} if env.str("CSP_REPORT_URI", default="")
           else {}),
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Nothing here uses a camera (uploads take files), a microphone, a location or payments in
# the page (Checkout is Stripe's own page).
PERMISSIONS_POLICY = {feature: [] for feature in (
    "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen",
    "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
    "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "usb",
    "xr-spatial-tracking")}

# --- Audit logs ---------------------------------------------------------------
# Signs the anchored heads and checkpoints of the consent log and the credit ledger
# (core/anchoring.py). Empty: derived from DJANGO_SECRET_KEY. Keep it out of the database's
# reach (a database dump must not be enough to forge an anchor); changing it makes every
# existing anchor fail verification.
AUDIT_ANCHOR_KEY = env.str("AUDIT_ANCHOR_KEY", default="")

# --- Cache and Celery (queues and routes: config/celery.py) --------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
# The embedded default has no broker process: tasks run in-process.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# A message a worker took but never acknowledged (it died) is handed out again after
# this long: longer than the longest job, or a slow job would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=6 * 60 * 60),
}

# --- E-mail -----------------------------------------------------------------
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Likeness <no-reply@likeness.local>")

# --- Internationalisation and logging ------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Delivery: REST API, outbound webhooks, directories, exports (delivery/) ---
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON nested deeper than any request of ours is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["delivery.api.base.BoundedJSONParser",
                               "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    # Requests per API key (delivery/api/base.py PerKeyThrottle).
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Likeness API",
    "VERSION": "1",
    "DESCRIPTION": "People, approved headshots, invitations and jobs of one company. "
                   "Authenticate with a company API key: `Authorization: Bearer lk_…`.",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Error answers are documented too (delivery/api/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "delivery.api.schema.error_responses"],
}
# Outbound webhooks (delivery/webhooks/). Private and loopback addresses are
# refused unless allowed (and plain http unless DEBUG), so endpoints cannot reach inside.
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
# Directory connectors (delivery/directory/). The addresses are settings, never a
# company's own config, so no uploaded credential can aim our workers elsewhere.
DIRECTORY_TIMEOUT_SECONDS = env.float("DIRECTORY_TIMEOUT_SECONDS", default=10.0)
ENTRA_LOGIN_BASE = env.str("ENTRA_LOGIN_BASE", default="https://login.microsoftonline.com")
GRAPH_API_BASE = env.str("GRAPH_API_BASE", default="https://graph.microsoft.com")
GOOGLE_TOKEN_URI = env.str("GOOGLE_TOKEN_URI", default="https://oauth2.googleapis.com/token")
GOOGLE_ADMIN_API_BASE = env.str("GOOGLE_ADMIN_API_BASE", default="https://admin.googleapis.com")
SLACK_SCIM_BASE = env.str("SLACK_SCIM_BASE", default="https://api.slack.com")
# Lifetime of the signed links to headshot images the API hands out, and of those in
# the people CSV export (which is read later, so they live longer).
API_IMAGE_URL_TTL_SECONDS = env.int("API_IMAGE_URL_TTL_SECONDS", default=300)
EXPORT_URL_TTL_SECONDS = env.int("EXPORT_URL_TTL_SECONDS", default=7 * 24 * 3600)

# --- Selfie intake (generation/intake/) -------------------------------------------
SELFIE_MAX_BYTES = env.int("SELFIE_MAX_BYTES", default=25 * 1024 * 1024)
SELFIE_MAX_PIXELS = env.int("SELFIE_MAX_PIXELS", default=50_000_000)
# Long side of the normalised copy we keep (the original is not kept).
SELFIE_LONG_SIDE = env.int("SELFIE_LONG_SIDE", default=2048)
SELFIES_MAX_PER_PERSON = env.int("SELFIES_MAX_PER_PERSON", default=20)
# Intake processes per web process: uploads are decoded and checked there, off the request
# (generation/intake/background.py); 0 checks them in the request itself.
SELFIE_INTAKE_PROCESSES = env.int("SELFIE_INTAKE_PROCESSES", default=0)
# A photo still being checked after this long was lost with its web process.
SELFIE_INTAKE_TIMEOUT_SECONDS = env.int("SELFIE_INTAKE_TIMEOUT_SECONDS", default=600)
# Uploads up to the selfie cap stay in memory: the original bytes never touch a disk
# (Django writes larger uploads than 2.5 MB to a temporary file by default).
FILE_UPLOAD_MAX_MEMORY_SIZE = SELFIE_MAX_BYTES
# dlib model files; empty: the ones shipped in the face-recognition-models wheel.
FACE_MODELS_DIR = env.str("FACE_MODELS_DIR", default="")

# --- Billing (Stripe) ---------------------------------------------------------------------
# Empty key: billing is off (self-hosted without Stripe: no credit limits at all).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=15.0)
BILLING_ENABLED = env.bool("BILLING_ENABLED", default=bool(STRIPE_SECRET_KEY))
BILLING_CURRENCY = env.str("BILLING_CURRENCY", default="usd")
# Packs as "credits:price in cents", comma-separated; and the per-seat price for any number.
CREDIT_PACKS = [
    (int(credits), int(cents)) for credits, cents in
    (pack.split(":") for pack in env.list("CREDIT_PACKS", default=["10:39000", "50:175000"]))
]
CREDIT_SEAT_PRICE_CENTS = env.int("CREDIT_SEAT_PRICE_CENTS", default=4000)
CREDITS_PER_JOB = env.int("CREDITS_PER_JOB", default=1)
LOW_BALANCE_CREDITS = env.int("LOW_BALANCE_CREDITS", default=3)

# --- Generation: backends, likeness, the GPU worker -------------------------------
# Replicate: single-selfie jobs. Empty token: jobs go to the offline backend.
REPLICATE_API_TOKEN = env.str("REPLICATE_API_TOKEN", default="")
REPLICATE_BASE_URL = env.str("REPLICATE_BASE_URL", default="https://api.replicate.com")
REPLICATE_MODEL = env.str("REPLICATE_MODEL", default="flux-kontext-apps/professional-headshot")
# "whsec_…" from Replicate's webhook settings; verifies webhook-signature headers.
REPLICATE_WEBHOOK_SECRET = env.str("REPLICATE_WEBHOOK_SECRET", default="")
REPLICATE_WEBHOOK_TOLERANCE_SECONDS = env.int("REPLICATE_WEBHOOK_TOLERANCE_SECONDS", default=300)
REPLICATE_TIMEOUT_SECONDS = env.float("REPLICATE_TIMEOUT_SECONDS", default=15.0)
# Token bucket on prediction creates (Replicate allows 600 creates a minute).
REPLICATE_CREATES_PER_SECOND = env.float("REPLICATE_CREATES_PER_SECOND", default=5.0)
REPLICATE_CREATE_BURST = env.int("REPLICATE_CREATE_BURST", default=10)
# Predictions without news for this long are polled (a webhook may never come).
REPLICATE_POLL_AFTER_SECONDS = env.int("REPLICATE_POLL_AFTER_SECONDS", default=120)
# Seeds per job (candidates), per backend; the best are kept after scoring.
SEEDS_PER_JOB = {
    "replicate": env.int("REPLICATE_SEEDS_PER_JOB", default=4),
    "offline": env.int("OFFLINE_SEEDS_PER_JOB", default=4),
    "gpu": env.int("GPU_SEEDS_PER_JOB", default=8),
}
# Oversampling: of a job's candidates, at most this many (the best) are shown, per backend.
KEEP_PER_JOB = {
    "replicate": env.int("REPLICATE_KEEP_PER_JOB", default=3),
    "offline": env.int("OFFLINE_KEEP_PER_JOB", default=4),
    "gpu": env.int("GPU_KEEP_PER_JOB", default=6),
}
# Likeness: a candidate is shown only when its face-embedding distance to the person's selfies
# (median over the selfies) is at most this; calibrated by bench/likeness_calibration.py.
# Companies may set their own (Company.likeness_threshold).
LIKENESS_THRESHOLD = env.float("LIKENESS_THRESHOLD", default=0.5)
# Fewer good likenesses than this and the job asks its backend for more seeds...
LIKENESS_MIN_SHOWN = env.int("LIKENESS_MIN_SHOWN", default=2)
# ...at most this many times; then it says honestly that it could not, and is not charged.
LIKENESS_MAX_REGENERATIONS = env.int("LIKENESS_MAX_REGENERATIONS", default=2)
# The GPU worker (consistent batches): the SDXL (or SD) base model, from a local folder only.
# "tiny:sdxl" / "tiny:sd" build a tiny random model in code, for smoke tests without a GPU.
GPU_BASE_MODEL_PATH = env.str("GPU_BASE_MODEL_PATH", default="")
GPU_LORA_RANK = env.int("GPU_LORA_RANK", default=16)
GPU_LORA_STEPS = env.int("GPU_LORA_STEPS", default=200)
GPU_LORA_BATCH_SIZE = env.int("GPU_LORA_BATCH_SIZE", default=4)
GPU_LORA_LEARNING_RATE = env.float("GPU_LORA_LEARNING_RATE", default=1e-4)
GPU_LORA_RESOLUTION = env.int("GPU_LORA_RESOLUTION", default=1024)
GPU_LORA_CHECKPOINT_EVERY = env.int("GPU_LORA_CHECKPOINT_EVERY", default=50)
GPU_LORA_GRADIENT_CHECKPOINTING = env.bool("GPU_LORA_GRADIENT_CHECKPOINTING", default=False)
GPU_LORA_8BIT_ADAM = env.bool("GPU_LORA_8BIT_ADAM", default=False)
GPU_GENERATION_SIZE = env.int("GPU_GENERATION_SIZE", default=1024)  # long side, px
GPU_GENERATION_STEPS = env.int("GPU_GENERATION_STEPS", default=30)
# A job whose worker died this many times (out of memory, a crash) is parked, not retried.
GPU_MAX_KILLS = env.int("GPU_MAX_KILLS", default=3)
# A worker holds a running job this long between signs of life; then another may take it.
GENERATION_LEASE_SECONDS = env.int("GENERATION_LEASE_SECONDS", default=300)
# A job that keeps failing on transient errors gives up after this many attempts.
GENERATION_MAX_ATTEMPTS = env.int("GENERATION_MAX_ATTEMPTS", default=5)

# --- Identity: SSO, SCIM provisioning, two-factor, audit log (identity/) ------------------
# Kept in one block: django-allauth provides the OpenID Connect and SAML providers and the
# MFA authenticators (TOTP, recovery codes, WebAuthn); django-scim2 the SCIM 2.0 protocol.
# allauth's own sign-up, password and e-mail pages are not mounted: people sign in as before
# (password for admins, e-mailed links for employees) or through their company's provider.
INSTALLED_APPS += [
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
    "identity",
]
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
                  "allauth.account.middleware.AccountMiddleware")
MIDDLEWARE.insert(MIDDLEWARE.index("axes.middleware.AxesMiddleware"),
                  "identity.middleware.IdentityMiddleware")
ACCOUNT_ADAPTER = "identity.sso.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_ADAPTER = "identity.sso.adapters.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
MFA_ADAPTER = "identity.twofactor.adapter.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Likeness")
# Plain http is accepted for WebAuthn only when developing locally.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=DEBUG)
# Outbound requests to identity providers (discovery, keys, tokens, SAML metadata) and to a
# domain's verification file; private and loopback addresses are refused unless allowed.
SSO_TIMEOUT_SECONDS = env.float("SSO_TIMEOUT_SECONDS", default=10.0)
SOCIALACCOUNT_REQUESTS_TIMEOUT = SSO_TIMEOUT_SECONDS
SSO_ALLOW_PRIVATE_URLS = env.bool("SSO_ALLOW_PRIVATE_URLS", default=False)
# Domain verification by DNS TXT record: resolvers to ask (empty: the system's).
DNS_TIMEOUT_SECONDS = env.float("DNS_TIMEOUT_SECONDS", default=5.0)
DNS_NAMESERVERS = env.list("DNS_NAMESERVERS", default=[])
# Where the proof file of a domain is fetched ({domain} is filled in).
DOMAIN_VERIFICATION_FILE_URL = env.str(
    "DOMAIN_VERIFICATION_FILE_URL",
    default="https://{domain}/.well-known/likeness-domain-verification.txt")
# Keys that encrypt identity secrets at rest (OIDC client secrets, TOTP seeds): Fernet keys,
# newest first (older ones still decrypt, for rotation). Empty: derived from SECRET_KEY.
IDENTITY_ENCRYPTION_KEYS = env.list("IDENTITY_ENCRYPTION_KEYS", default=[])
# Two-factor verification of an admin session lasts this long, then is asked again.
ADMIN_2FA_SESSION_HOURS = env.int("ADMIN_2FA_SESSION_HOURS", default=12)
SCIM_PAGE_SIZE_MAX = env.int("SCIM_PAGE_SIZE_MAX", default=200)
SCIM_SERVICE_PROVIDER = {
    "NETLOC": SITE_URL.split("://", 1)[-1],
    "SCHEME": SITE_URL.split("://", 1)[0],
    "DOCUMENTATION_URI": None,
    # Locations are built from SITE_URL when a response is made (NETLOC above is unused).
    "BASE_LOCATION_GETTER": "identity.scim.auth.base_location",
    "AUTHENTICATION_SCHEMES": [{
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "A provisioning token of one company, made on its SCIM page.",
        "primary": True,
    }],
    "USER_MODEL_GETTER": "identity.scim.adapters.user_model",
    "USER_ADAPTER": "identity.scim.adapters.ScimUserAdapter",
    "GROUP_MODEL": "identity.models.ScimGroup",
    "GROUP_ADAPTER": "identity.scim.adapters.ScimGroupAdapter",
    "USER_FILTER_PARSER": "identity.scim.filters.UserFilterQuery",
    "GROUP_FILTER_PARSER": "identity.scim.filters.GroupFilterQuery",
    "GET_EXTRA_MODEL_FILTER_KWARGS_GETTER": "identity.scim.auth.company_filter_kwargs_getter",
    "SERVICE_PROVIDER_CONFIG_MODEL": "identity.scim.views.ServiceProviderConfig",
    "AUTH_CHECK_MIDDLEWARE": "identity.scim.auth.PassThrough",
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="scim"',
}
