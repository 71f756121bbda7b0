"""The batches and review pages follow the jobs being made live (static/js/progress.js asks
the job status endpoint); the script itself is exercised in tests/e2e/test_progress_browser.py.
"""

from __future__ import annotations

import re

import pytest

from generation.models import GenerationJob

from .factories import GenerationJobFactory

pytestmark = pytest.mark.django_db


def _job(tenant, membership, *, kind, status):
    return GenerationJobFactory(membership=membership, company=tenant.company, kind=kind,
                                status=status, finished_at=None, seeds=[1, 2, 3])


def _followed(html: str) -> set[str]:
    return set(re.findall(r'data-progress-url="([^"]+)" data-open="1"', html))


def test_the_batches_page_follows_open_batch_jobs_and_not_finished_ones(tenant_a):
    running = _job(tenant_a, tenant_a.member, kind=GenerationJob.Kind.CONSISTENT_BATCH,
                   status=GenerationJob.Status.RUNNING)
    done = _job(tenant_a, tenant_a.admin, kind=GenerationJob.Kind.CONSISTENT_BATCH,
                status=GenerationJob.Status.READY)
    html = tenant_a.client_for(tenant_a.admin).get("/c/alpha/admin/batches/").content.decode()
    assert _followed(html) == {f"/c/alpha/jobs/{running.pk}/status/"}
    assert f"/c/alpha/jobs/{done.pk}/status/" not in html
    assert 'src="/static/js/progress.js"' in html and "data-progress-text" in html


def test_the_review_page_follows_headshots_being_made(tenant_a):
    queued = _job(tenant_a, tenant_a.member, kind=GenerationJob.Kind.SINGLE_SELFIE,
                  status=GenerationJob.Status.QUEUED)
    _job(tenant_a, tenant_a.admin, kind=GenerationJob.Kind.PREVIEW,
         status=GenerationJob.Status.RUNNING)  # a look preview is not a headshot
    _job(tenant_a, tenant_a.owner, kind=GenerationJob.Kind.SINGLE_SELFIE,
         status=GenerationJob.Status.FAILED)
    html = tenant_a.client_for(tenant_a.admin).get("/c/alpha/admin/review/").content.decode()
    assert _followed(html) == {f"/c/alpha/jobs/{queued.pk}/status/"}
    assert "Being made now" in html and 'data-reload-when-done="1"' in html
    assert 'src="/static/js/progress.js"' in html


def test_nothing_being_made_loads_no_script(tenant_a):
    html = tenant_a.client_for(tenant_a.admin).get("/c/alpha/admin/review/").content.decode()
    assert "Being made now" not in html and "progress.js" not in html


def test_an_admin_may_follow_anyones_job_and_a_colleague_may_not(tenant_a):
    job = _job(tenant_a, tenant_a.member, kind=GenerationJob.Kind.CONSISTENT_BATCH,
               status=GenerationJob.Status.RUNNING)
    url = f"/c/alpha/jobs/{job.pk}/status/"
    assert tenant_a.client_for(tenant_a.admin).get(url).json()["stage"] == "generating"
    assert tenant_a.client_for(tenant_a.owner).get(url).status_code == 200
    other = _job(tenant_a, tenant_a.admin, kind=GenerationJob.Kind.SINGLE_SELFIE,
                 status=GenerationJob.Status.RUNNING)
    assert tenant_a.client_for(tenant_a.member).get(
        f"/c/alpha/jobs/{other.pk}/status/").status_code == 404
