"""Production: PostgreSQL, Redis, S3, HTTPS only. Refuses to start half-configured."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# E-mailed links must point at the real site, never the embedded default's address.
SITE_URL = env.str("SITE_URL").rstrip("/")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The database's tenant wall is on in production (README, "Row-level security").
DB_ROW_LEVEL_SECURITY = env.bool("DB_ROW_LEVEL_SECURITY", default=True)
DATABASES["default"] = database_with_rls(DATABASES["default"],  # noqa: F405
                                         bypass=not DB_ROW_LEVEL_SECURITY)
if env.str("DATABASE_MIGRATE_URL", default=""):
    DATABASES["migrate"] = database_with_rls(env.db("DATABASE_MIGRATE_URL"),  # noqa: F405
                                             bypass=True)

REDIS_URL = env.str("REDIS_URL")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": REDIS_URL}}
SESSION_ENGINE = SHARED_CACHE_SESSIONS  # noqa: F405
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = False
# Selfies are checked off the request path, one intake process per web process.
SELFIE_INTAKE_PROCESSES = env.int("SELFIE_INTAKE_PROCESSES", default=1)

if not AWS_STORAGE_BUCKET_NAME:  # noqa: F405
    raise RuntimeError("Production needs AWS_STORAGE_BUCKET_NAME: selfies never live on local disk.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every address is HTTPS in production: a stray http:// link is upgraded, never loaded plain.
CONTENT_SECURITY_POLICY["DIRECTIVES"]["upgrade-insecure-requests"] = True  # noqa: F405
