"""The Celery app. Queues (named in core/queues.py) and routes are declared here and nowhere
else. Task names stay as they were when a module moved between apps: queued messages carry
them."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

from core.queues import (
    QUEUE_DEFAULT,
    QUEUE_GPU,
    QUEUE_OFFLINE,
    QUEUE_PRIVACY,
    QUEUE_REPLICATE,
    QUEUES,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("likeness")
app.config_from_object("django.conf:settings", namespace="CELERY")


app.conf.task_queues = tuple(Queue(name) for name in QUEUES)
app.conf.task_default_queue = QUEUE_DEFAULT
# Task name prefix -> queue. Apps name their tasks "<app>.<verb>".
app.conf.task_routes = {
    "teams.*": {"queue": QUEUE_DEFAULT},
    "privacy.*": {"queue": QUEUE_PRIVACY},
    # Generation: one queue per backend (generation/routing.py chooses the backend).
    "generation.run_replicate_job": {"queue": QUEUE_REPLICATE},
    "generation.sync_prediction": {"queue": QUEUE_REPLICATE},
    "generation.poll_predictions": {"queue": QUEUE_REPLICATE},
    "generation.run_gpu_job": {"queue": QUEUE_GPU},
    "generation.run_offline_job": {"queue": QUEUE_OFFLINE},
    "generation.*": {"queue": QUEUE_DEFAULT},
}
app.conf.task_acks_late = False
app.conf.worker_prefetch_multiplier = 1
app.conf.task_serializer = "json"
app.conf.accept_content = ["json"]
app.conf.broker_connection_retry_on_startup = True
app.conf.beat_schedule = {
    "replicate-poll": {
        # The fallback for webhooks that never arrive.
        "task": "generation.poll_predictions",
        "schedule": 60,
    },
    "generation-requeue-stalled": {
        "task": "generation.requeue_stalled_jobs",
        "schedule": 120,
    },
    "privacy-sweep": {
        # Retention to the hour: each run deletes in chunks until nothing is due.
        "task": "privacy.sweep",
        "schedule": 15 * 60,
    },
    "webhook-deliveries": {
        # Retries of outbound webhooks, and deliveries whose first queueing was lost.
        "task": "teams.deliver_due_webhooks",
        "schedule": 60,
    },
    "audit-checkpoints-consent": {
        # Signed copies of the consent log's head, in the database and in the logs.
        "task": "privacy.consent_checkpoint",
        "schedule": 60 * 60,
    },
    "audit-checkpoints-ledger": {
        "task": "billing.ledger_checkpoint",
        "schedule": 60 * 60,
    },
    "invitation-reminders": {
        "task": "teams.send_invitation_reminders",
        "schedule": 60 * 60,  # hourly; each company decides after how many days
    },
}

app.autodiscover_tasks()
