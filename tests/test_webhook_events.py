"""The services announce what happened (core/events.py) and, once the transaction commits,
the company's webhook endpoints hear of it: a member joined, a job ended.
(headshot.approved: tests/test_directory_sync.py.)"""

from __future__ import annotations

from django.db import transaction

from delivery.models import WebhookDelivery
from delivery.webhooks.services import webhook_endpoint_create
from generation.models import GenerationJob
from generation.services.jobs import job_fail
from teams.services.invitations import invitation_accept, invitation_create, invitation_token_renew

from .helpers import candidate_for


def _listening(tenant, settings, *events):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    webhook_endpoint_create(company=tenant.company, actor=tenant.owner,
                            url="http://127.0.0.1:9/hook", events=list(events))


def _announced(tenant) -> list[tuple[str, dict]]:
    return [(d.event_type, d.payload["data"]) for d in
            WebhookDelivery.objects.for_company(tenant.company).order_by("pk")]


def test_accepting_an_invitation_announces_member_joined(tenant_a, settings,
                                                          django_capture_on_commit_callbacks):
    _listening(tenant_a, settings, "member.joined")
    invitation = invitation_create(company=tenant_a.company, email="new@alpha.example",
                                   created_by=tenant_a.owner.user, team=tenant_a.team,
                                   send=False)
    raw = invitation_token_renew(company=tenant_a.company, invitation=invitation, sent=True)
    with django_capture_on_commit_callbacks(execute=True):
        member = invitation_accept(raw_token=raw)
    assert _announced(tenant_a) == [("member.joined", {"person": member.pk,
                                                       "team": tenant_a.team.pk})]


def test_a_failed_job_announces_job_failed_with_ids_only(tenant_a, settings,
                                                         django_capture_on_commit_callbacks):
    _listening(tenant_a, settings, "job.failed")
    job = candidate_for(tenant_a.member).job
    GenerationJob.objects.for_company(tenant_a.company).filter(pk=job.pk).update(
        status=GenerationJob.Status.RUNNING)
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        job_fail(job, reason="backend down")
    ((event_type, data),) = _announced(tenant_a)
    assert event_type == "job.failed"
    assert data["job"] == job.pk and data["person"] == tenant_a.member.pk
    assert data["status"] == "failed" and "email" not in str(data)


def test_nothing_is_announced_before_the_commit_nor_after_a_rollback(
        tenant_a, settings, django_capture_on_commit_callbacks):
    _listening(tenant_a, settings, "job.failed")
    job = candidate_for(tenant_a.member).job
    GenerationJob.objects.for_company(tenant_a.company).filter(pk=job.pk).update(
        status=GenerationJob.Status.RUNNING)
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            job_fail(job, reason="backend down")
            assert _announced(tenant_a) == []  # not yet: the failure may still roll back
            transaction.set_rollback(True)
    assert callbacks == [] and _announced(tenant_a) == []
