"""The job state machine, claims and leases, and where jobs are routed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from generation.jobs import IllegalTransition, job_claim, job_hold, job_transition
from generation.models import GenerationJob
from generation.routing import (
    gpu_worker_heartbeat,
    job_route,
    replicate_failure_record,
    replicate_success_record,
)
from generation.services.jobs import _notify_ready
from teams.models import Membership

from .factories import MembershipFactory, UserFactory
from .helpers import candidate_for

Status = GenerationJob.Status
Kind = GenerationJob.Kind


@pytest.fixture
def job(tenant_a) -> GenerationJob:
    ready = candidate_for(tenant_a.member).job
    return GenerationJob.objects.create(
        company=tenant_a.company, membership=tenant_a.member, kind=Kind.SINGLE_SELFIE,
        look_version=ready.look_version, backend="offline", seeds=[1, 2])


def test_the_happy_path(job):
    assert job_transition(job, Status.RUNNING)
    assert job_transition(job, Status.SCORING)
    assert job_transition(job, Status.READY)
    assert job.finished_at is not None


@pytest.mark.parametrize(("path", "illegal"), [
    ([], Status.SCORING),
    ([], Status.READY),
    ([Status.RUNNING, Status.SCORING, Status.READY], Status.RUNNING),
    ([Status.CANCELLED], Status.RUNNING),
    ([Status.FAILED], Status.READY),
    ([Status.RUNNING, Status.SCORING], Status.RUNNING),
    ([Status.RUNNING, Status.SCORING, Status.READY], Status.QUEUED),
])
def test_illegal_transitions_are_refused(job, path, illegal):
    for state in path:
        assert job_transition(job, state)
    before = job.status
    with pytest.raises(IllegalTransition):
        job_transition(job, illegal)
    job.refresh_from_db()
    assert job.status == before


def test_only_one_of_two_racing_claims_wins(job):
    twin = GenerationJob.objects.for_company(job.company).get(pk=job.pk)
    assert job_claim(job, lease=timedelta(minutes=5))
    assert not job_claim(twin, lease=timedelta(minutes=5))
    assert job.attempts == 1


def _row(job: GenerationJob) -> dict:
    fresh = GenerationJob.objects.for_company(job.company_id).get(pk=job.pk)
    return {f.attname: getattr(fresh, f.attname) for f in GenerationJob._meta.concrete_fields}


def test_a_claim_and_a_transition_leave_the_job_as_its_row_stands_in_one_statement(
        job, django_assert_num_queries):
    job.company  # loaded, as the task loads it with the job  # noqa: B018
    with django_assert_num_queries(1):  # the UPDATE returns the row: no SELECT after it
        assert job_claim(job, lease=timedelta(minutes=5))
    assert _row(job) == {f.attname: getattr(job, f.attname)
                         for f in GenerationJob._meta.concrete_fields}
    assert job.attempts == 1 and job.lease_until > timezone.now()  # F() and a datetime
    with django_assert_num_queries(1):
        assert job_transition(job, Status.SCORING)
        # The look version and the company stay loaded (a job never changes either).
        assert job.company.pk == job.company_id and job.look_version.pk == job.look_version_id
    assert _row(job) == {f.attname: getattr(job, f.attname)
                         for f in GenerationJob._meta.concrete_fields}


def test_a_lost_race_reads_the_job_again(job):
    assert job_claim(job, lease=timedelta(minutes=5))
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        status=Status.CANCELLED, failure_reason="Cancelled meanwhile")
    with pytest.raises(IllegalTransition):  # judged on the job as it now stands
        job_transition(job, Status.SCORING)
    assert (job.status, job.failure_reason) == (Status.CANCELLED, "Cancelled meanwhile")
    twin = GenerationJob.objects.for_company(job.company_id).get(pk=job.pk)
    assert not job_claim(twin, lease=timedelta(minutes=5))
    assert twin.status == Status.CANCELLED and twin.attempts == 1


def test_without_update_returning_a_claim_reads_the_job_after_it(job, monkeypatch,
                                                                  django_assert_num_queries):
    from django.db import connection

    monkeypatch.setattr(type(connection.features), "can_return_columns_from_insert", False)
    with django_assert_num_queries(2):
        assert job_claim(job, lease=timedelta(minutes=5))
    assert job.status == Status.RUNNING and job.attempts == 1
    assert _row(job) == {f.attname: getattr(job, f.attname)
                         for f in GenerationJob._meta.concrete_fields}


def test_a_dead_workers_job_is_taken_over_after_its_lease(job):
    assert job_claim(job, lease=timedelta(minutes=5))
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert job_claim(job, lease=timedelta(minutes=5))
    assert job.attempts == 2 and job.status == Status.RUNNING


def test_routing_without_replicate_goes_offline_and_says_why(settings, db):
    settings.REPLICATE_API_TOKEN = ""
    route = job_route(kind=Kind.SINGLE_SELFIE)
    assert (route.backend, route.queue, route.task) == ("offline", "offline",
                                                         "generation.run_offline_job")
    assert "not configured" in route.reason


def test_routing_with_replicate(settings, db):
    settings.REPLICATE_API_TOKEN = "r8_test"
    route = job_route(kind=Kind.SINGLE_SELFIE)
    assert (route.backend, route.queue, route.reason) == ("replicate", "replicate", "")
    assert job_route(kind=Kind.PREVIEW).backend == "replicate"


def test_replicate_that_keeps_failing_is_routed_around_until_it_recovers(settings, db):
    settings.REPLICATE_API_TOKEN = "r8_test"
    for _ in range(5):
        replicate_failure_record()
    route = job_route(kind=Kind.SINGLE_SELFIE)
    assert route.backend == "offline" and "not answering" in route.reason
    replicate_success_record()
    assert job_route(kind=Kind.SINGLE_SELFIE).backend == "replicate"


def test_batches_go_to_gpu_workers_only_while_one_is_alive(db):
    route = job_route(kind=Kind.CONSISTENT_BATCH)
    assert route.backend == "offline" and "No GPU workers" in route.reason
    gpu_worker_heartbeat(hostname="gpu-1", ttl=60)
    route = job_route(kind=Kind.CONSISTENT_BATCH)
    assert (route.backend, route.queue, route.task) == ("gpu", "gpu", "generation.run_gpu_job")


def test_queues_are_declared_once_and_routes_point_at_them():
    from config.celery import QUEUES, app

    declared = {q.name for q in app.conf.task_queues}
    assert declared == set(QUEUES)
    for route in app.conf.task_routes.values():
        assert route["queue"] in declared


def test_job_hold_renews_only_a_running_job_and_says_its_status(job):
    lease = timedelta(minutes=5)
    assert job_hold(job, lease=lease) == Status.QUEUED
    job.refresh_from_db()
    assert job.lease_until is None  # a queued job is not held by anyone
    assert job_claim(job, lease=lease)
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert job_hold(job, lease=lease) == Status.RUNNING
        job.refresh_from_db()
        assert job.lease_until >= timezone.now() + lease - timedelta(seconds=1)
    assert job_transition(job, Status.CANCELLED)
    before = (job.lease_until, job.updated_at)
    assert job_hold(job, lease=lease) == Status.CANCELLED
    job.refresh_from_db()
    assert (job.lease_until, job.updated_at) == before
    job.delete()
    assert job_hold(job, lease=lease) is None


@pytest.mark.parametrize(("teammate", "sent"), [
    (Membership.Status.REVIEW, "2 people in Engineering have headshots waiting"),
    (Membership.Status.GENERATING, None),
])
def test_admins_hear_a_team_is_ready_with_how_many_wait(
        job, tenant_a, teammate, sent, django_capture_on_commit_callbacks):
    other = MembershipFactory(company=tenant_a.company, team=tenant_a.team, status=teammate,
                              user=UserFactory(email="other@alpha.example"))
    Membership.objects.for_company(tenant_a.company).filter(pk=tenant_a.member.pk).update(
        status=Membership.Status.REVIEW)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _notify_ready(job)
    team_mail = {m.to[0]: m.body for m in mail.outbox if "ready for review" in m.subject}
    if sent is None:
        assert team_mail == {}
    else:
        assert set(team_mail) == {tenant_a.owner.user.email, tenant_a.admin.user.email}
        assert all(sent in body for body in team_mail.values())
    assert other.user.email not in team_mail
