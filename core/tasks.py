"""Queueing work after the commit, and the kernel's one task (sending a rendered e-mail)."""

from __future__ import annotations

import smtplib
from typing import Any

from celery import current_app, shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction


def task_enqueue(name: str, *args: Any, queue: str | None = None, **kwargs: Any) -> None:
    """Queue the task registered as ``name`` once the current transaction commits (at once
    outside one), so a rolled-back action queues nothing.

    By name, so that a service never imports the tasks module that imports it: an app's
    tasks sit above its services and there is no import loop. The registered task object
    is used, so eager mode (tests) runs it in-process. Each app imports its
    tasks module in ``AppConfig.ready()``, so every name is registered in every process.
    """
    transaction.on_commit(
        lambda: current_app.tasks[name].apply_async(args=args, kwargs=kwargs, queue=queue))


# The name is kept from when this lived in teams/: messages already queued carry it.
@shared_task(
    name="teams.send_email",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=60 * 30,
    retry_jitter=True,
    max_retries=8,
)
def send_email(*, to: str, subject: str, text: str, html: str) -> None:
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.send()
