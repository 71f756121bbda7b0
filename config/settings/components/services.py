"""Cache, Celery and e-mail."""

from __future__ import annotations

from .environment import env

# --- Cache and Celery (queues and routes: config/celery.py) --------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Sessions are read from the cache and written through to the database where every process
# shares one cache (Redis): a request no longer reads its session row, one of the few
# statements each makes. Never with a cache of each process's own: a sign-out in one would
# not reach the copy another still holds.
SHARED_CACHE_SESSIONS = "django.contrib.sessions.backends.cached_db"
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
    SESSION_ENGINE = SHARED_CACHE_SESSIONS
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
# Tasks go to workers, on the embedded default too (local.py: a broker folder, no server).
# True runs them inside the process that queues them (tests do).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
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
