"""Celery finds an app's tasks in ``<app>.tasks``: delivery's live with each way out."""

from .directory.tasks import directory_sync  # noqa: F401
from .webhooks.tasks import deliver_due_webhooks, deliver_webhook  # noqa: F401
