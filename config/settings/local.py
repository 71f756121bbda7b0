"""The embedded default: one command on a bare machine, no services needed.

Generation never runs in a request, here too: without Redis, Celery's broker is kombu's
filesystem transport (a folder of message files, no server), and ``platform/bin/demo``
starts a real worker process beside the web server. A separate process, not a thread: the
face and matting models are not safe to share between threads.
"""

from pathlib import Path

from .base import *  # noqa: F403
from .base import BASE_DIR, CELERY_BROKER_TRANSPORT_OPTIONS, DATABASES, REDIS_URL, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# The folder the web server writes messages into and the worker reads them from.
EMBEDDED_BROKER_DIR = Path(env.str("EMBEDDED_BROKER_DIR", default=str(BASE_DIR / "var" / "broker")))

if not REDIS_URL and not env.str("CELERY_BROKER_URL", default=""):
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        # One folder both ways: every process reads and writes the same queue files.
        "data_folder_in": str(EMBEDDED_BROKER_DIR / "queue"),
        "data_folder_out": str(EMBEDDED_BROKER_DIR / "queue"),
        "control_folder": str(EMBEDDED_BROKER_DIR / "control"),
        "processed_folder": str(EMBEDDED_BROKER_DIR / "processed"),
    }
    # kombu does not create them, and a message queued into a missing folder is lost with
    # an error in the request.
    for _folder in ("queue", "control", "processed"):
        (EMBEDDED_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
# Tasks go to the worker; CELERY_TASK_ALWAYS_EAGER=true runs them in-process again (the demo
# seeding does, before the worker starts).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two processes write one SQLite file: WAL lets readers and a writer work side by side,
    # IMMEDIATE takes the write lock at the start of a transaction (no deadlocked upgrade),
    # and a writer waits for the lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
