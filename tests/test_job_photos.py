"""A job run scores the photos it stored from the images it encoded, not by reading them
back (on S3, a GET per candidate) or decoding them again, and never a photo storage no longer
holds."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from PIL import Image

from generation import scoring
from generation.job_photos import photo_forgotten, photo_stored, photo_taken, photos_kept
from generation.models import Candidate, GenerationJob
from generation.tasks import run_offline_job

from .test_runner import (  # noqa: F401 - files: the fixture, reused
    _job,
    _raw_output,
    files,
    replicate_job_succeeded,
)

pytestmark = pytest.mark.django_db
Status = GenerationJob.Status
Backend = GenerationJob.Backend


@pytest.fixture
def watched(request, monkeypatch):
    """Local files; the keys read from them, and the pixels of each image the gates judged."""
    request.getfixturevalue("files")
    seen: dict[str, list] = {"read": [], "judged": []}
    real_open, real_gate = FileSystemStorage.open, scoring.candidates_gate

    def storage_open(self, name, mode="rb"):
        seen["read"].append(name)
        return real_open(self, name, mode)

    def gate(images, **kwargs):
        seen["judged"].extend(np.asarray(image).copy() for image in images)
        return real_gate(images, **kwargs)

    monkeypatch.setattr(FileSystemStorage, "open", storage_open)
    monkeypatch.setattr(scoring, "candidates_gate", gate)
    return seen


def _within_jpeg_error(judged: np.ndarray, stored: np.ndarray) -> bool:
    """The same picture, as a quality-92 JPEG of it is: within a level or two on average."""
    difference = np.abs(judged.astype(np.int16) - stored.astype(np.int16))
    return judged.shape == stored.shape and difference.mean() < 2.5


def _stored_pixels(job: GenerationJob) -> list[np.ndarray]:
    pixels = []
    for candidate in Candidate.objects.for_company(job.company_id).filter(job=job).order_by(
            "pk"):
        with default_storage.open(candidate.image_key, "rb") as handle:
            pixels.append(np.asarray(Image.open(handle).convert("RGB")))
    return pixels


def test_an_offline_run_judges_what_it_stored_without_reading_it_back(tenant_a, watched):
    job = _job(tenant_a, Backend.OFFLINE, seeds=[5, 6])
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        status=Status.QUEUED, lease_until=None)
    run_offline_job.apply(args=[job.pk]).get()
    keys = set(Candidate.objects.for_company(job.company_id).filter(job=job)
               .values_list("image_key", flat=True))
    assert len(keys) == 2 and not keys & set(watched["read"])
    # What the gates judged is what storage holds: the pixels its JPEG was made of.
    stored = _stored_pixels(job)
    assert len(watched["judged"]) == 2
    assert all(_within_jpeg_error(a, b) for a, b in zip(watched["judged"], stored, strict=True))


def test_a_replicate_delivery_is_judged_from_what_it_stored(tenant_a, watched, monkeypatch):
    from generation import runner

    job = replicate_job_succeeded(tenant_a, monkeypatch)
    runner.job_receive(job, external_id="p-11")
    candidate = Candidate.objects.for_company(job.company_id).get(job=job)
    assert candidate.scored_at is not None and candidate.image_key not in watched["read"]
    assert _within_jpeg_error(watched["judged"][0], _stored_pixels(job)[0])


def test_photos_stored_by_an_earlier_run_are_read_from_storage(tenant_a, watched):
    """A rescore (or a job resumed by another worker) has no bytes in hand."""
    job = _job(tenant_a, Backend.OFFLINE, seeds=[5])
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        status=Status.QUEUED, lease_until=None)
    run_offline_job.apply(args=[job.pk]).get()
    candidate = Candidate.objects.for_company(job.company_id).get(job=job)
    watched["read"].clear()
    watched["judged"].clear()
    scoring.candidates_score(job, [candidate])
    assert candidate.image_key in watched["read"]
    assert np.array_equal(watched["judged"][0], _stored_pixels(job)[0])


@pytest.mark.usefixtures("files")
def test_a_recropped_photo_is_read_again_from_storage(tenant_a):
    job = _job(tenant_a, Backend.OFFLINE, seeds=[5])
    first = _raw_output().resize((300, 400))
    out = io.BytesIO()
    first.save(out, format="JPEG", quality=92)
    key = default_storage.save(f"tests/recrop-{job.pk}.jpg", ContentFile(out.getvalue()))
    candidate = Candidate(company=job.company, job=job, membership=job.membership, seed=5,
                          output_index=0, image_key=key, thumb_key=key + ".thumb.jpg",
                          width=300, height=400)
    recropped = _raw_output().resize((200, 250))
    with photos_kept():
        photo_stored(key, first)
        scoring._replace_image(candidate, recropped)
        [opened] = scoring._open_all([candidate.image_key])
    assert opened.size == (200, 250)


def test_photos_are_kept_only_inside_a_run_and_handed_over_once():
    one, two, three = (Image.new("RGB", (4, 4), (n, n, n)) for n in (1, 2, 3))
    photo_stored("a", one)  # no run: nothing is kept
    assert photo_taken("a") is None
    with photos_kept():
        photo_stored("a", one)
        photo_stored("b", two)
        with photos_kept():  # a nested block shares the run's photos
            assert photo_taken("a") is one
        assert photo_taken("a") is None  # handed over once
        photo_forgotten("b")
        assert photo_taken("b") is None
        photo_stored("c", three)
    with photos_kept():
        assert photo_taken("c") is None  # nothing outlives its run


@pytest.mark.usefixtures("files")
def test_a_duplicate_photo_leaves_nothing_kept_but_the_first(tenant_a):
    """The same (seed, output) stored twice at once: the second meets the unique constraint,
    its files go, and so does its image (scoring must never judge a photo storage lost)."""
    from generation import job_photos
    from generation.services.jobs import candidate_store

    job = _job(tenant_a, Backend.OFFLINE, seeds=[5])
    with photos_kept():
        first = candidate_store(job=job, seed=5, output_index=0, source_id="a",
                                image=_raw_output())
        again = candidate_store(job=job, seed=5, output_index=0, source_id="b",
                                image=_raw_output().rotate(90), unseen=True)
        kept = job_photos._kept.get()
        assert again is None and list(kept) == [first.image_key]
