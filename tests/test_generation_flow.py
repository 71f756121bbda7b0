"""The offline backend end to end, through the views: start → candidates → pick → review.

Tasks run in-process (eager, as in every unit test; tests/test_embedded_worker.py runs the
embedded default's real worker); the offline backend makes real studio retouches of a real
portrait.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from generation.models import Candidate, GenerationJob, Headshot, ReviewDecision
from generation.routing import gpu_worker_heartbeat
from teams.models import Membership

from .faces import face_bytes, face_photos
from .helpers import approved_look, db_fingerprint, selfie_for

# Real commits, so jobs are queued on commit as in production.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
Action = ReviewDecision.Action


def _url(name: str, company, **kwargs) -> str:
    return reverse(f"generation:{name}", kwargs={"company_slug": company.slug, **kwargs})


@pytest.fixture
def ready_member(tenant_a, settings):
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    settings.REPLICATE_API_TOKEN = ""  # the embedded default: no Replicate
    approved_look(tenant_a.company)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    return tenant_a.member


def _three_more_selfies(membership) -> None:
    """Distinct photos of the same person (mirrored and cropped copies)."""
    for photo in face_photos()[1:]:
        selfie_for(membership, data=photo)


def _start(tenant, client) -> GenerationJob:
    response = client.post(_url("headshots_start", tenant.company))
    assert response.status_code == 302
    return GenerationJob.objects.for_company(tenant.company).filter(
        membership=tenant.member).latest("queued_at")


def test_employee_gets_offline_headshots_picks_one_and_admin_approves(tenant_a, ready_member):
    company, member = tenant_a.company, tenant_a.member
    employee, admin = tenant_a.client_for(member), tenant_a.client_for(tenant_a.admin)

    job = _start(tenant_a, employee)
    assert job.status == GenerationJob.Status.READY
    assert job.backend == GenerationJob.Backend.OFFLINE
    assert job.backend_reason == "Replicate is not configured on this installation."
    candidates = list(Candidate.objects.for_company(company).filter(job=job, visible=True))
    assert len(candidates) == 2
    assert {c.seed for c in candidates} == set(job.seeds)
    assert all((c.width, c.height) == (819, 1024) for c in candidates)  # corporate: 4:5

    # The employee sees which backend made the photos, and the photos.
    page = employee.get(_url("headshots", company)).content.decode()
    assert "Studio retouch, offline" in page
    for candidate in candidates:
        assert _url("candidate_thumb", company, pk=candidate.pk) in page
    progress = employee.get(_url("headshots_progress", company)).json()
    assert progress["status"] == "ready" and progress["made"] == 2
    assert len(progress["candidates"]) == 2
    image = employee.get(_url("candidate_image", company, pk=candidates[0].pk))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"

    # Notified: the employee that photos are ready; the admins that the team is ready.
    subjects = {(m.to[0], m.subject) for m in mail.outbox}
    assert any(to == member.user.email and "ready" in s.lower() for to, s in subjects)
    assert any(to == tenant_a.admin.user.email and "review" in s.lower() for to, s in subjects)

    # The employee picks a favourite; the admin sees it on the review screen.
    pick = candidates[1]
    employee.post(_url("candidate_favourite", company, pk=pick.pk), {"favourite": "1"})
    review = admin.get(_url("review", company)).content.decode()
    assert _url("candidate_thumb", company, pk=pick.pk) in review
    assert "their pick" in review

    # Rejecting needs a reason; without one nothing changes.
    before = db_fingerprint()
    admin.post(_url("review_decide", company, pk=pick.pk), {"action": "reject", "reason": ""})
    assert db_fingerprint() == before
    admin.post(_url("review_decide", company, pk=pick.pk),
               {"action": "reject", "reason": "Tie is crooked"})
    page = employee.get(_url("headshots", company)).content.decode()
    assert "Tie is crooked" in page

    # The employee picks again; the admin approves: it is their current headshot.
    other = candidates[0]
    employee.post(_url("candidate_favourite", company, pk=other.pk), {"favourite": "1"})
    admin.post(_url("review_decide", company, pk=other.pk), {"action": "approve"})
    headshot = Headshot.objects.for_company(company).get(membership=member)
    assert headshot.candidate_id == other.pk
    assert headshot.approved_by == tenant_a.admin.user
    member.refresh_from_db()
    assert member.status == Membership.Status.APPROVED
    page = employee.get(_url("headshots", company)).content.decode()
    assert "Your approved headshot" in page

    # Every decision is in the audit trail, in order, with who made it.
    trail = list(ReviewDecision.objects.for_company(company).filter(membership=member)
                 .order_by("created_at", "pk").values_list("action", "reason", "actor__email"))
    assert trail == [
        (Action.FAVOURITE, "", member.user.email),
        (Action.REJECT, "Tie is crooked", tenant_a.admin.user.email),
        (Action.FAVOURITE, "", member.user.email),
        (Action.APPROVE, "", tenant_a.admin.user.email),
    ]
    assert "Tie is crooked" in admin.get(_url("review", company)).content.decode()


def test_redo_makes_new_photos_up_to_the_companys_limit(tenant_a, ready_member):
    company = tenant_a.company
    company.redo_limit = 1
    company.save(update_fields=["redo_limit"])
    employee = tenant_a.client_for(tenant_a.member)
    first = _start(tenant_a, employee)

    employee.post(_url("headshots_redo", company), {"reason": "I blinked"})
    jobs = GenerationJob.objects.for_company(company).filter(membership=tenant_a.member)
    assert jobs.count() == 2
    second = jobs.exclude(pk=first.pk).get()
    assert second.status == GenerationJob.Status.READY
    assert ReviewDecision.objects.for_company(company).get(action=Action.REDO).reason == (
        "I blinked")

    before = db_fingerprint()
    response = employee.post(_url("headshots_redo", company), follow=True)
    assert "used all 1 redos" in response.content.decode()
    assert db_fingerprint() == before


def test_only_the_person_picks_and_only_admins_decide(tenant_a, ready_member):
    company = tenant_a.company
    job = _start(tenant_a, tenant_a.client_for(tenant_a.member))
    candidate = Candidate.objects.for_company(company).filter(job=job).first()
    admin = tenant_a.client_for(tenant_a.admin)
    employee = tenant_a.client_for(tenant_a.member)
    before = db_fingerprint()
    # An admin cannot pick for the employee; the employee cannot approve themselves.
    admin.post(_url("candidate_favourite", company, pk=candidate.pk), {"favourite": "1"})
    response = employee.post(_url("review_decide", company, pk=candidate.pk),
                             {"action": "approve"})
    assert response.status_code == 403
    assert db_fingerprint() == before


def test_another_companys_admin_cannot_see_or_decide(tenant_a, tenant_b, ready_member):
    company = tenant_a.company
    job = _start(tenant_a, tenant_a.client_for(tenant_a.member))
    candidate = Candidate.objects.for_company(company).filter(job=job).first()
    outsider = tenant_b.client_for(tenant_b.admin)
    before = db_fingerprint()
    for url in (_url("candidate_image", company, pk=candidate.pk),
                _url("candidate_image", tenant_b.company, pk=candidate.pk)):
        assert outsider.get(url).status_code == 404
    response = outsider.post(_url("review_decide", tenant_b.company, pk=candidate.pk),
                             {"action": "approve"})
    assert response.status_code == 404
    assert db_fingerprint() == before


def test_admin_orders_a_consistent_batch_for_a_team(tenant_a, ready_member):
    company, team = tenant_a.company, tenant_a.team
    admin = tenant_a.client_for(tenant_a.admin)
    # One selfie is not enough for a personal model: nothing starts, the admin is told why.
    response = admin.post(_url("generate_for_team", company),
                          {"team": team.pk, "kind": "consistent_batch"}, follow=True)
    assert "Started headshots for 0 people." in response.content.decode()
    assert "1 of 4 usable selfies" in response.content.decode()
    assert not GenerationJob.objects.for_company(company).exists()

    _three_more_selfies(tenant_a.member)
    # No GPU worker is registered: the batch is made offline, and says so.
    admin.post(_url("generate_for_team", company), {"team": team.pk,
                                                     "kind": "consistent_batch"})
    job = GenerationJob.objects.for_company(company).get()
    assert job.kind == GenerationJob.Kind.CONSISTENT_BATCH
    assert job.backend == GenerationJob.Backend.OFFLINE
    assert job.backend_reason == "No GPU workers are registered."
    assert job.status == GenerationJob.Status.READY


def test_a_consistent_batch_goes_to_the_gpu_queue_while_a_gpu_worker_is_alive(
        tenant_a, ready_member, monkeypatch):
    from config.celery import app
    from generation import tasks  # noqa: F401  registers the tasks

    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(app.tasks["generation.run_gpu_job"], "apply_async",
                        lambda args, queue, **_: sent.append((args[0], queue)))
    _three_more_selfies(tenant_a.member)
    gpu_worker_heartbeat(hostname="gpu-1")
    admin = tenant_a.client_for(tenant_a.admin)
    admin.post(_url("generate_for_team", tenant_a.company),
               {"team": tenant_a.team.pk, "kind": "consistent_batch"})
    job = GenerationJob.objects.for_company(tenant_a.company).get()
    assert (job.kind, job.backend, job.status) == (
        GenerationJob.Kind.CONSISTENT_BATCH, GenerationJob.Backend.GPU,
        GenerationJob.Status.QUEUED)
    assert sent == [(job.pk, "gpu")]
