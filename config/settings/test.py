"""Tests run against the real PostgreSQL and Redis (see README)."""

import os

from .base import *  # noqa: F403
from .base import env

DATABASES = {
    "default": env.db(
        "TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/likeness"
    ),
}
# The tests connect as a superuser, whom row-level security never holds: every company page
# and task still names its company (core/rls.py runs), and tests/test_row_level_security.py
# drops to the application's role (manage.py db_roles) to see the wall hold.
DB_ROW_LEVEL_SECURITY = True
REDIS_URL = env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
# Parallel test workers (pytest-xdist: gw0, gw1…) share one Redis database, each under a
# prefix of its own for the cache and the Celery broker: one worker's clean-up or its worker
# processes never touch another's keys (tests/conftest.py clears only this prefix). Each
# worker has its own PostgreSQL database already (pytest-django) and its own files (tmp_path,
# or in memory), and every fake and receiver listens on a free port.
# (PYTEST_XDIST_WORKER is pytest-xdist's to set, not a setting anyone configures.)
REDIS_KEY_PREFIX = "likeness-test-" + os.environ.get("PYTEST_XDIST_WORKER", "main")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
    }
}
SESSION_ENGINE = SHARED_CACHE_SESSIONS  # noqa: F405  (as production, on the shared Redis)
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
                                   "global_keyprefix": f"{REDIS_KEY_PREFIX}:"}
# Unit tests run tasks in-process; tests of real workers start them with this set false.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In memory, unless a test shares files with a worker process through a folder.
_media = env.str("TEST_MEDIA_ROOT", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": _media}} if _media else
    {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SITE_URL = "http://testserver"
DEBUG = False
WEBHOOK_ALLOW_PRIVATE_URLS = True  # receivers in the tests listen on 127.0.0.1
SSO_ALLOW_PRIVATE_URLS = True  # the test identity providers listen on 127.0.0.1
EVENTS_RAISE = True  # a failing event handler fails its test (core/events.py)
