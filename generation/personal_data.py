"""Generation's personal data, registered with privacy (privacy/registry.py): selfies and
their face embeddings, generated photos, the approved headshot, job records, a person's
trained model (LoRA weights) and the review history. For each: how long it is kept, how it
is erased, and what a person's copy of their data says about it."""

from __future__ import annotations

from collections.abc import Container, Iterator
from datetime import datetime

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from core.storage import CANDIDATES, LORA, SELFIES
from privacy.deletion import row_delete, subject_of
from privacy.dsr import ExportArchive
from privacy.registry import (
    PersonalData,
    RetentionRule,
    company_records_register,
    personal_data_register,
    processing_stop_register,
)
from privacy.storage import storage_list_folders, storage_walk
from teams.models import Company, Membership
from teams.services.companies import membership_hold_register

from .colleagues import index_drop
from .deletion import (
    candidate_delete,
    candidates_delete,
    embedding_clear,
    headshot_delete,
    job_delete,
    lora_delete,
    selfie_delete,
    selfies_delete,
)
from .jobs import OPEN, TERMINAL
from .models import Candidate, GenerationJob, Headshot, ReviewDecision, Selfie
from .services.jobs import processing_stop_for_member

# --- Retention: what each rule finds past its cutoff -----------------------------------


def _last_finished() -> Subquery:
    return Subquery(
        GenerationJob.objects.filter(company_id=OuterRef("company_id"),
                                     membership_id=OuterRef("membership"),
                                     finished_at__isnull=False)
        .order_by("-finished_at").values("finished_at")[:1])


def _has_open_job() -> Exists:
    return Exists(GenerationJob.objects.filter(company_id=OuterRef("company_id"),
                                               membership_id=OuterRef("membership"),
                                               status__in=OPEN))


def _after_last_job(queryset: QuerySet, cutoff: datetime) -> QuerySet:
    """Rows of people whose last job ended before the cutoff, no job open, and the row
    older than that job (a selfie uploaded for the next job is not "after" the last one)."""
    return (queryset.annotate(last_finished=_last_finished(), has_open=_has_open_job())
            .filter(last_finished__lte=cutoff, last_finished__gte=F("created_at"),
                    has_open=False))


def _headshot_candidates(company: Company) -> QuerySet:
    return Headshot.objects.for_company(company).values("candidate_id")


def _headshots(company: Company, cutoff: datetime) -> QuerySet:
    return Headshot.objects.for_company(company).filter(approved_at__lte=cutoff)


def _selfies_max(company: Company, cutoff: datetime) -> QuerySet:
    return Selfie.objects.for_company(company).filter(created_at__lte=cutoff)


def _selfies_after_last_job(company: Company, cutoff: datetime) -> QuerySet:
    return _after_last_job(Selfie.objects.for_company(company), cutoff)


def _selfie_embeddings(company: Company, cutoff: datetime) -> QuerySet:
    return _after_last_job(
        Selfie.objects.for_company(company).filter(face_embedding__isnull=False), cutoff)


def _candidate_embeddings(company: Company, cutoff: datetime) -> QuerySet:
    return Candidate.objects.for_company(company).filter(
        face_embedding__isnull=False, job__finished_at__lte=cutoff)


def _rejected_candidates(company: Company, cutoff: datetime) -> QuerySet:
    rejected_in_review = ReviewDecision.objects.filter(
        company_id=OuterRef("company_id"), candidate_id=OuterRef("pk"),
        action=ReviewDecision.Action.REJECT)
    return (Candidate.objects.for_company(company)
            .filter(Q(visible=False) | Q(Exists(rejected_in_review)), created_at__lte=cutoff)
            .exclude(pk__in=_headshot_candidates(company)))


def _unchosen_candidates(company: Company, cutoff: datetime) -> QuerySet:
    return (Candidate.objects.for_company(company)
            .filter(visible=True, is_favourite=False, created_at__lte=cutoff)
            .exclude(pk__in=_headshot_candidates(company)))


def _favourites(company: Company, cutoff: datetime) -> QuerySet:
    """A pick not yet approved is kept like a headshot, and never past the same limit."""
    return (Candidate.objects.for_company(company)
            .filter(is_favourite=True, created_at__lte=cutoff)
            .exclude(pk__in=_headshot_candidates(company)))


def _job_records(company: Company, cutoff: datetime) -> QuerySet:
    return (GenerationJob.objects.for_company(company)
            .filter(status__in=TERMINAL, finished_at__lte=cutoff)
            .exclude(candidates__in=Candidate.objects.filter(
                company=company, pk__in=_headshot_candidates(company))))


def _jobs_with_weights(company_id: int) -> list[int]:
    """Jobs with files in their LoRA folder (a folder emptied on local disk stays behind)."""
    company_folder = LORA.company_folder(company_id=company_id)
    return [int(name[1:]) for name in storage_list_folders(company_folder)
            if name[:1] == LORA.owner and name[1:].isdigit()
            and next(storage_walk(f"{company_folder}/{name}"), None) is not None]


def _delivered_weights(company: Company, cutoff: datetime) -> QuerySet:
    """Jobs finished before the cutoff whose trained model is still in storage."""
    return GenerationJob.objects.for_company(company).filter(
        pk__in=_jobs_with_weights(company.pk), status__in=TERMINAL, finished_at__lte=cutoff)


def _weights_delete(job: GenerationJob, rule: str) -> None:
    lora_delete(company_id=job.company_id, job_id=job.pk, rule=rule,
                subject_user_id=subject_of(job.company_id, job.membership_id))


def _reviews(company: Company, cutoff: datetime) -> QuerySet:
    return ReviewDecision.objects.for_company(company).filter(created_at__lte=cutoff)


# --- Keys the rows account for (anything else in these areas is an orphan) -------------


def _selfie_keys(company_id: int) -> set[str]:
    rows = Selfie.objects.filter(company_id=company_id).values_list("image_key", "thumb_key")
    return {key for pair in rows for key in pair if key}


def _candidate_keys(company_id: int) -> set[str]:
    rows = Candidate.objects.filter(company_id=company_id).values_list("image_key", "thumb_key")
    return {key for pair in rows for key in pair if key}


class _KeysOfLiveJobs(Container[str]):
    """A job's weights are its own until the retention rule takes them; once the job is
    gone they are an orphan."""

    def __init__(self, company_id: int) -> None:
        self.jobs = set(GenerationJob.objects.filter(
            company_id=company_id, pk__in=_jobs_with_weights(company_id)).values_list(
            "pk", flat=True))

    def __contains__(self, key: object) -> bool:
        owner = LORA.owner_of(str(key))
        return owner is not None and owner[1] in self.jobs


# --- What a person's copy of their data says --------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _embeddings(archive: ExportArchive) -> dict:
    # Face embeddings are counted, not included: they are derived numbers, useless to the
    # person and a risk if the file leaks (issue 5: never exported).
    return archive.data.setdefault("face_embeddings", {
        "stored_for_selfies": 0, "stored_for_generated_photos": 0,
        "note": "Numeric face data used only to check likeness; not included in this copy."})


def _export_headshot(company: Company, membership: Membership, archive: ExportArchive) -> None:
    archive.data["approved_headshot"] = None
    headshot = Headshot.objects.for_company(company).filter(membership=membership).first()
    if headshot is not None:
        candidate = Candidate.objects.for_company(company).get(pk=headshot.candidate_id)
        archive.add_file("approved-headshot.jpg", candidate.image_key)
        archive.data["approved_headshot"] = {"file": "approved-headshot.jpg",
                                             "approved_at": headshot.approved_at.isoformat()}


def _export_selfies(company: Company, membership: Membership, archive: ExportArchive) -> None:
    entries = archive.data.setdefault("selfies", [])
    counts = _embeddings(archive)
    for n, selfie in enumerate(Selfie.objects.for_company(company).filter(
            membership=membership).order_by("pk"), start=1):
        name = f"selfies/selfie-{n}.jpg"
        archive.add_file(name, selfie.image_key)
        entries.append({"file": name, "uploaded_at": selfie.created_at.isoformat(),
                        "status": selfie.status, "qa_reasons": selfie.qa_reasons,
                        "qa_warnings": selfie.qa_warnings})
        counts["stored_for_selfies"] += selfie.face_embedding is not None


def _export_candidates(company: Company, membership: Membership,
                       archive: ExportArchive) -> None:
    entries = archive.data.setdefault("generated_photos", [])
    counts = _embeddings(archive)
    # Previews on the bundled sample portrait are not anyone's personal data.
    for candidate in Candidate.objects.for_company(company).filter(
            membership=membership).exclude(job__sample_portrait=True).order_by("pk"):
        name = f"generated/job-{candidate.job_id}-{candidate.pk}.jpg"
        archive.add_file(name, candidate.image_key)
        entries.append({
            "file": name, "job": candidate.job_id, "made_at": candidate.created_at.isoformat(),
            "shown_to_you": candidate.visible, "hidden_reason": candidate.hidden_reason,
            "likeness": candidate.likeness, "favourite": candidate.is_favourite})
        counts["stored_for_generated_photos"] += candidate.face_embedding is not None


def _export_jobs(company: Company, membership: Membership, archive: ExportArchive) -> None:
    archive.data["jobs"] = [
        {"id": job.pk, "kind": job.kind, "status": job.status, "backend": job.backend,
         "look": f"{job.look_version.look.name} v{job.look_version.version}",
         "queued_at": _iso(job.queued_at), "finished_at": _iso(job.finished_at),
         "failure_reason": job.failure_reason}
        for job in GenerationJob.objects.for_company(company).filter(
            membership=membership).exclude(sample_portrait=True).select_related("look_version__look").order_by("pk")]


# --- What a leaver policy that keeps approved headshots keeps ---------------------------


def _kept_headshots(company: Company, membership: Membership) -> QuerySet:
    return Headshot.objects.for_company(company).filter(membership=membership)


def _kept_candidates(company: Company, membership: Membership) -> QuerySet:
    """The headshot's own photo; the job's other candidates go."""
    return Candidate.objects.for_company(company).filter(
        pk__in=_kept_headshots(company, membership).values("candidate_id"))


def _kept_jobs(company: Company, membership: Membership) -> QuerySet:
    """The job record the headshot's photo belongs to (its trained model still goes)."""
    return GenerationJob.objects.for_company(company).filter(
        pk__in=_kept_candidates(company, membership).values("job_id"))


def _holds_a_headshot(company: Company, membership: Membership) -> bool:
    """A leaver whose headshot was kept stays a member ("left") while the headshot does."""
    return _kept_headshots(company, membership).exists()


def _face_data_strip(obj: Candidate, rule: str) -> None:
    if obj.face_embedding is not None:
        embedding_clear(obj, rule=rule)


# --- Registration (GenerationConfig.ready) ----------------------------------------------


def _of_person(model):
    def of_person(company: Company, membership: Membership) -> Iterator:
        return iter(model.objects.for_company(company).filter(membership=membership))
    return of_person


def _erase(delete):
    return lambda obj, rule, subject: delete(obj, rule=rule, subject_user_id=subject)


def _rule(name: str, clock: str, due, delete, delete_many=None) -> RetentionRule:
    return RetentionRule(name, clock, due, lambda obj, rule: delete(obj, rule=rule),
                         (lambda objs, rule: delete_many(objs, rule=rule)) if delete_many
                         else None)


def _colleague_index_erase(company: Company, rule: str) -> None:
    """A closed company's colleague index (its people's selfies took it with them already;
    this is for one made after)."""
    index_drop(company.pk)


def register() -> None:
    """Registration order is erasure order: a headshot goes before the photo it protects."""
    processing_stop_register(processing_stop_for_member)
    membership_hold_register(_holds_a_headshot)
    company_records_register(_colleague_index_erase)
    personal_data_register(PersonalData(
        kind="headshot", of_person=_of_person(Headshot), erase=_erase(headshot_delete),
        export=_export_headshot, kept_with_headshot=_kept_headshots,
        rules=(_rule("headshots", "headshots_hours", _headshots, headshot_delete),)))
    personal_data_register(PersonalData(
        kind="selfie", of_person=_of_person(Selfie), erase=_erase(selfie_delete),
        export=_export_selfies, files=SELFIES, known_keys=_selfie_keys, rules=(
            _rule("selfies.max_age", "selfies_max_hours", _selfies_max, selfie_delete,
                  selfies_delete),
            _rule("selfies.after_last_job", "selfies_after_last_job_hours",
                  _selfies_after_last_job, selfie_delete, selfies_delete),
            _rule("embeddings.selfie", "embeddings_after_last_job_hours", _selfie_embeddings,
                  embedding_clear))))
    personal_data_register(PersonalData(
        kind="candidate", of_person=_of_person(Candidate), erase=_erase(candidate_delete),
        erase_many=lambda objs, rule, subject: candidates_delete(objs, rule=rule,
                                                                 subject_user_id=subject),
        export=_export_candidates, files=CANDIDATES, known_keys=_candidate_keys,
        kept_with_headshot=_kept_candidates, strip=_face_data_strip, rules=(
            _rule("embeddings.candidate", "embeddings_after_last_job_hours",
                  _candidate_embeddings, embedding_clear),
            _rule("candidates.rejected", "rejected_candidates_hours", _rejected_candidates,
                  candidate_delete, candidates_delete),
            _rule("candidates.unchosen", "unchosen_candidates_hours", _unchosen_candidates,
                  candidate_delete, candidates_delete),
            _rule("candidates.favourite", "headshots_hours", _favourites, candidate_delete,
                  candidates_delete))))
    personal_data_register(PersonalData(
        kind="lora_weights", of_person=_of_person(GenerationJob),
        erase=lambda job, rule, subject: lora_delete(
            company_id=job.company_id, job_id=job.pk, rule=rule, subject_user_id=subject),
        files=LORA, known_keys=_KeysOfLiveJobs, rules=(
            RetentionRule("lora.after_delivery", "lora_after_delivery_hours",
                          _delivered_weights, _weights_delete),)))
    personal_data_register(PersonalData(
        kind="job", of_person=_of_person(GenerationJob), erase=_erase(job_delete),
        export=_export_jobs, kept_with_headshot=_kept_jobs,
        rules=(_rule("jobs", "job_records_hours", _job_records, job_delete),)))
    personal_data_register(PersonalData(
        kind="review_decision", of_person=_of_person(ReviewDecision),
        erase=lambda obj, rule, subject: row_delete(obj, rule),
        rules=(RetentionRule("audit.reviews", "audit_log_hours", _reviews, row_delete),)))
