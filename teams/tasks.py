from __future__ import annotations

from celery import shared_task

from core.rls import company_task, rls_bypass

from .models import Company, Invitation
from .services.invitations import invitation_reminders_send_due, invitation_send


@shared_task(name="teams.send_invitation_reminders")
@rls_bypass("maintenance: automatic reminders of every company")
def send_invitation_reminders() -> int:
    return invitation_reminders_send_due()


@shared_task(name="teams.send_saved_invitations", autoretry_for=(ConnectionError, TimeoutError),
             retry_backoff=30, retry_jitter=True, max_retries=5)
@company_task(lambda company_id, *args, **kwargs: company_id)
def send_saved_invitations(company_id: int, invitation_ids: list[int]) -> int:
    """E-mail invitations a bulk import saved (each gets a fresh link: tokens are hashed)."""
    company = Company.objects.get(pk=company_id)
    sent = 0
    for invitation in Invitation.objects.for_company(company).filter(
            pk__in=invitation_ids, sent_at__isnull=True, accepted_at__isnull=True,
            revoked_at__isnull=True).select_related("company"):
        invitation_send(company=company, invitation=invitation)
        sent += 1
    return sent
