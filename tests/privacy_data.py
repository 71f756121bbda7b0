"""A person with one of everything the privacy rules cover, stored on the active backend."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import Candidate, GenerationJob, Headshot, LookVersion, ReviewDecision, Selfie

from .helpers import approved_look, image_bytes, selfie_for

EMBEDDING = [0.01] * 128


@dataclass
class PersonData:
    selfie: Selfie
    job: GenerationJob
    hidden: Candidate
    unchosen: Candidate
    favourite: Candidate
    approved: Candidate
    headshot: Headshot
    lora_keys: list[str]
    keys: dict[str, list[str]] = field(default_factory=dict)  # label -> storage keys


def _candidate(job: GenerationJob, seed: int, **fields) -> Candidate:
    base = f"candidates/c{job.company_id}/j{job.pk}/{seed}-0"
    image = default_storage.save(f"{base}.jpg", ContentFile(image_bytes((64, 80))))
    thumb = default_storage.save(f"{base}_thumb.jpg", ContentFile(image_bytes((32, 40))))
    return Candidate.objects.create(
        company_id=job.company_id, job=job, membership_id=job.membership_id, seed=seed,
        source_id=f"test:{seed}", image_key=image, thumb_key=thumb, width=64, height=80,
        face_embedding=EMBEDDING, scored_at=timezone.now(),
        gates_passed=fields.get("visible", False), **fields)


def person_data(membership) -> PersonData:
    """Selfie (with embedding) -> a finished job with four candidates (hidden by the
    likeness filter, shown but not chosen, the favourite, the approved headshot), its
    LoRA weights, and a review decision."""
    company = membership.company
    selfie = selfie_for(membership)
    Selfie.objects.for_company(company).filter(pk=selfie.pk).update(face_embedding=EMBEDDING)
    selfie.refresh_from_db()
    version = (LookVersion.objects.for_company(company).filter(status="approved").first()
               or approved_look(company))
    job = GenerationJob.objects.create(
        company=company, membership=membership, kind=GenerationJob.Kind.CONSISTENT_BATCH,
        look_version=version, backend=GenerationJob.Backend.GPU,
        status=GenerationJob.Status.READY, seeds=[1, 2, 3, 4], started_at=timezone.now(),
        finished_at=timezone.now())
    hidden = _candidate(job, 1, visible=False, hidden_reason="below the likeness threshold")
    unchosen = _candidate(job, 2, visible=True)
    favourite = _candidate(job, 3, visible=True, is_favourite=True)
    approved = _candidate(job, 4, visible=True)
    headshot = Headshot.objects.create(company=company, membership=membership,
                                       candidate=approved)
    ReviewDecision.objects.create(company=company, membership=membership, candidate=approved,
                                  job=job, action=ReviewDecision.Action.APPROVE,
                                  actor=membership.user)
    lora_keys = [default_storage.save(f"lora/c{company.pk}/j{job.pk}/{name}", ContentFile(b"w"))
                 for name in ("lora.safetensors", "checkpoint.pt")]
    data = PersonData(selfie, job, hidden, unchosen, favourite, approved, headshot, lora_keys)
    data.keys = {
        "selfie": [selfie.image_key, selfie.thumb_key],
        **{name: [c.image_key, c.thumb_key] for name, c in (
            ("hidden", hidden), ("unchosen", unchosen), ("favourite", favourite),
            ("approved", approved))},
        "lora": lora_keys,
    }
    return data


def all_keys(data: PersonData) -> set[str]:
    return {key for keys in data.keys.values() for key in keys}
