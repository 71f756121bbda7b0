"""Webhook tasks: thin (delivery/tasks.py imports them, so Celery finds them)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from core.rls import company_of, company_task, rls_bypass

from ..models import WebhookDelivery
from .sending import webhook_deliver, webhook_deliveries_due, webhook_deliveries_release_stale


# A delivery's own failures (timeouts, 5xx answers) are retried by the schedule in
# sending.py through deliver_due_webhooks; only a database hiccup is retried here.
# The time limit stays below sending.SENDING_LEASE, after which a stuck claim is released.
@shared_task(
    name="teams.deliver_webhook",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=120,
    time_limit=150,
)
@company_task(lambda delivery_id, *args, **kwargs: company_of(WebhookDelivery, pk=delivery_id))
def deliver_webhook(delivery_id: int) -> str:
    return webhook_deliver(delivery_id=delivery_id)


@shared_task(name="teams.deliver_due_webhooks")
@rls_bypass("maintenance: due webhook deliveries of every company")
def deliver_due_webhooks(limit: int = 5000, chunk: int = 500) -> int:
    """Queue every delivery whose next attempt is due (run by beat every minute)."""
    webhook_deliveries_release_stale()
    queued, after = 0, 0
    while queued < limit:
        ids = webhook_deliveries_due(after_pk=after, limit=min(chunk, limit - queued))
        if not ids:
            break
        for pk in ids:
            deliver_webhook.delay(pk)
        queued += len(ids)
        after = ids[-1]
    return queued
