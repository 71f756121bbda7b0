"""Django itself: hosts, apps, middleware, templates, the database, language and logging."""

from __future__ import annotations

from .environment import BASE_DIR, env

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
