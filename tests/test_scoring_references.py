"""What scoring compares a job's candidates with: the person's selfies' embeddings and
quality, kept on each selfie at upload. A selfie stored before they were kept is looked at
once, by the first job that needs it, and never again, whatever it holds."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage

from generation import scoring
from generation.models import Selfie

from .helpers import image_bytes
from .test_runner import _job, files  # noqa: F401 - files: the fixture, reused

pytestmark = pytest.mark.django_db


@pytest.fixture
def opened(files, monkeypatch):  # noqa: F811
    """The storage keys read while the test runs."""
    seen: list[str] = []
    real_open = FileSystemStorage.open

    def storage_open(self, name, mode="rb"):
        seen.append(name)
        return real_open(self, name, mode)

    monkeypatch.setattr(FileSystemStorage, "open", storage_open)
    return seen


def _as_stored_long_ago(job, *, photo: bytes | None = None) -> Selfie:
    """The job's selfie as stored before embeddings and quality were kept; ``photo``: what
    its file holds instead."""
    selfie = job.selfies.for_company(job.company_id).get()
    if photo is not None:
        default_storage.delete(selfie.image_key)
        default_storage.save(selfie.image_key, ContentFile(photo))
    Selfie.objects.for_company(job.company_id).filter(pk=selfie.pk).update(
        face_embedding=None, qa_metrics={})
    return selfie


def test_a_job_reads_the_kept_embeddings_and_opens_no_selfie(tenant_a, opened):
    job = _job(tenant_a, "offline", seeds=[5])
    selfie = job.selfies.for_company(job.company_id).get()
    opened.clear()
    references = scoring.job_references(job)
    assert references.embeddings == [selfie.face_embedding]
    assert references.quality == {"detail": selfie.qa_metrics["detail"]}
    assert opened == []


def test_an_old_selfie_is_measured_once_and_kept(tenant_a, opened):
    job = _job(tenant_a, "offline", seeds=[5])
    selfie = _as_stored_long_ago(job)
    opened.clear()
    first = scoring.job_references(job)
    assert opened == [selfie.image_key]
    selfie.refresh_from_db()
    assert len(selfie.face_embedding) == len(first.embeddings[0])
    assert selfie.qa_metrics["detail"] > 0 and selfie.qa_metrics[scoring.BACKFILLED]
    opened.clear()
    assert scoring.job_references(job).embeddings == first.embeddings
    assert opened == []


def test_an_old_selfie_without_a_face_is_looked_at_once_not_by_every_job(tenant_a, opened):
    job = _job(tenant_a, "offline", seeds=[5])
    selfie = _as_stored_long_ago(job, photo=image_bytes((600, 800)))
    opened.clear()
    references = scoring.job_references(job)
    assert (references.embeddings, references.quality) == ([], None)
    assert opened == [selfie.image_key]
    selfie.refresh_from_db()
    assert selfie.face_embedding is None and selfie.qa_metrics == {scoring.BACKFILLED: True}
    opened.clear()
    for _ in range(2):
        assert scoring.job_references(job).embeddings == []
    assert opened == []


def test_an_unreadable_old_selfie_is_tried_again_by_the_next_job(tenant_a, opened):
    job = _job(tenant_a, "offline", seeds=[5])
    selfie = _as_stored_long_ago(job)
    default_storage.delete(selfie.image_key)  # storage lost it, or cannot be reached
    opened.clear()
    assert scoring.job_references(job).embeddings == []
    selfie.refresh_from_db()
    assert selfie.qa_metrics == {}
    scoring.job_references(job)
    assert opened == [selfie.image_key, selfie.image_key]
