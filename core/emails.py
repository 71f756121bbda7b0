"""Outgoing e-mail: rendered from templates/emails/, sent by a Celery task after commit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from .tasks import send_email


def email_send(*, to: str, template: str, context: dict[str, Any]) -> None:
    """Render ``emails/<template>.{subject.txt,txt,html}`` and queue it for sending.

    Rendering happens now (the context may hold model objects); the task gets
    only strings. Queued on commit so a rolled-back invitation sends nothing.
    """
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{template}.subject.txt", context).strip()
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    transaction.on_commit(
        lambda: send_email.delay(to=to, subject=subject, text=text, html=html)
    )
