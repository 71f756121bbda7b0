"""Likeness scoring: no "not me" photo reaches anyone, at any exit.

Jobs run through the real replicate client against the fake, whose outputs are either the
person's own selfie (a good likeness) or a photo of somebody else (an impostor).
"""

from __future__ import annotations

import base64
import time

import pytest
from django.test import Client
from django.urls import reverse

from core.errors import ServiceError
from generation.models import Candidate, GenerationJob
from generation.scoring import HIDDEN_LIKENESS, HIDDEN_NOT_BEST, job_score
from generation.services.jobs import NO_LIKENESS_REASON, job_create, seed_schedule
from generation.services.review import candidate_favourite_set, headshot_approve
from teams.models import Membership
from tests.fakes import replicate as fake

from .faces import face_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
Status = GenerationJob.Status


def _impostor(inputs: dict, index: int) -> bytes:
    """Somebody else, as a proper studio headshot in the look: only the face is wrong."""
    other = "data:image/jpeg;base64," + base64.b64encode(face_bytes("biden.jpg")).decode()
    return fake.default_output({**inputs, "input_image": other}, index)


def _outputs(impostor_seeds: set[int]):
    def factory(inputs: dict, index: int) -> bytes:
        if int(inputs.get("seed") or 0) in impostor_seeds:
            return _impostor(inputs, index)
        return fake.default_output(inputs, index)
    return factory


def _wait(job: GenerationJob, *statuses: str, timeout: float = 60.0) -> GenerationJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job stayed {job.status}")


def _url(name: str, member, **kwargs) -> str:
    return reverse(f"generation:{name}", kwargs={"company_slug": member.company.slug, **kwargs})


def _client(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def test_impostors_are_hidden_at_every_exit(ready_member, fake_replicate, tenant_a):
    company = tenant_a.company
    seeds = seed_schedule(company=company, count=4)
    fake_replicate.output_factory = _outputs({seeds[0], seeds[2]})
    job = _wait(job_create(company=company, membership=ready_member,
                           requested_by=ready_member.user), Status.READY)
    rows = {c.seed: c for c in Candidate.objects.for_company(company).filter(job=job)}
    impostors = [rows[seeds[0]], rows[seeds[2]]]
    genuine = [rows[seeds[1]], rows[seeds[3]]]
    for candidate in impostors:
        assert not candidate.visible and candidate.hidden_reason == HIDDEN_LIKENESS
        assert candidate.likeness_distance > 0.6  # clearly somebody else
    for candidate in genuine:
        assert candidate.visible and candidate.likeness_distance < 0.3
        assert candidate.conformance.get("flags") is not None  # conformance was measured

    employee, admin = _client(ready_member), _client(tenant_a.admin)
    pages = [employee.get(_url("headshots", ready_member)).content.decode(),
             admin.get(_url("review", ready_member)).content.decode(),
             admin.get(_url("uniformity", ready_member)).content.decode()]
    progress = employee.get(_url("headshots_progress", ready_member)).json()
    assert sorted(c["id"] for c in progress["candidates"]) == sorted(c.pk for c in genuine)
    assert progress["not_alike"] == 2
    assert "2 photos did not look enough like you" in pages[0]
    for candidate in impostors:
        for page in pages:
            assert f"/candidates/{candidate.pk}/" not in page
        for client in (employee, admin):
            for name in ("candidate_image", "candidate_thumb"):
                assert client.get(_url(name, ready_member, pk=candidate.pk)).status_code == 404
        # A direct POST is refused with a clear message (tests/test_gate_exits.py has more).
        response = employee.post(_url("candidate_favourite", ready_member, pk=candidate.pk))
        assert response.status_code == 409 and b"did not pass the checks" in response.content
        assert admin.post(_url("review_decide", ready_member, pk=candidate.pk),
                          {"action": "approve"}).status_code == 409
        with pytest.raises(ServiceError):
            candidate_favourite_set(company=company, actor=ready_member, candidate=candidate,
                                    favourite=True)
        with pytest.raises(ServiceError):
            headshot_approve(company=company, actor=tenant_a.admin, candidate=candidate)
    assert not Candidate.objects.for_company(company).filter(
        pk__in=[c.pk for c in impostors], is_favourite=True).exists()


def test_a_job_of_only_impostors_tries_again_then_says_so_and_is_not_charged(
        ready_member, fake_replicate, tenant_a, settings, monkeypatch):
    settings.LIKENESS_MAX_REGENERATIONS = 1
    settled: list[bool] = []
    monkeypatch.setattr("generation.services.jobs.billing_job_release",
                        lambda *, company, job, consumed: settled.append(consumed))
    company = tenant_a.company
    fake_replicate.output_factory = _outputs(set(seed_schedule(company=company, count=8)))
    job = _wait(job_create(company=company, membership=ready_member,
                           requested_by=ready_member.user), Status.FAILED, Status.READY)
    assert job.status == Status.FAILED
    assert job.failure_reason == NO_LIKENESS_REASON
    assert job.regenerations == 1 and len(job.seeds) == 8
    assert fake_replicate.creates == 8  # the first four, then four fresh seeds
    assert sorted(Candidate.objects.for_company(company).filter(job=job)
                  .values_list("seed", flat=True)) == sorted(job.seeds)
    assert not Candidate.objects.for_company(company).filter(job=job, visible=True).exists()
    assert settled == [False]  # refunded, not consumed
    ready_member.refresh_from_db()
    assert ready_member.status == Membership.Status.UPLOADED  # may try again
    page = _client(ready_member).get(_url("headshots", ready_member)).content.decode()
    assert "could not make photos that look enough like you" in page


def test_only_the_best_are_shown_and_the_company_threshold_decides(tenant_a, settings):
    from .helpers import candidate_for

    settings.KEEP_PER_JOB = {**settings.KEEP_PER_JOB, "offline": 2}
    member = tenant_a.member
    first = candidate_for(member, seed=1)
    job = first.job
    job.seeds = [1, 2, 3, 4]
    job.save(update_fields=["seeds"])
    candidates = [first] + [candidate_for(member, seed=s) for s in (2, 3, 4)]
    for candidate in candidates[1:]:
        Candidate.objects.for_company(tenant_a.company).filter(pk=candidate.pk).update(
            job=job)
    distances = {1: 0.42, 2: 0.21, 3: 0.55, 4: 0.33}
    for candidate in candidates:
        Candidate.objects.for_company(tenant_a.company).filter(pk=candidate.pk).update(
            face_embedding=[0.0] * 128, likeness_distance=distances[candidate.seed],
            gates_passed=True,
            likeness=1 - distances[candidate.seed], conformance={"flags": []},
            scored_at="2026-11-23T00:00:00Z")
    candidates = list(Candidate.objects.for_company(tenant_a.company).filter(job=job))

    def shown() -> dict[int, str]:
        return {c.seed: ("shown" if c.visible else c.hidden_reason)
                for c in Candidate.objects.for_company(tenant_a.company).filter(job=job)}

    outcome = job_score(job, candidates)  # default threshold 0.5: three pass, two kept
    assert (outcome.passing, outcome.shown) == (3, 2)
    assert shown() == {2: "shown", 4: "shown", 1: HIDDEN_NOT_BEST, 3: HIDDEN_LIKENESS}

    tenant_a.company.likeness_threshold = 0.3  # stricter
    tenant_a.company.save(update_fields=["likeness_threshold"])
    job.refresh_from_db()
    assert job_score(job, candidates).passing == 1
    assert shown() == {2: "shown", 4: HIDDEN_LIKENESS, 1: HIDDEN_LIKENESS, 3: HIDDEN_LIKENESS}
