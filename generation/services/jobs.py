"""Creating, running, finishing and cancelling generation jobs."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from contextlib import nullcontext
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from PIL import Image

from billing.limits import (
    BillingLimitReached,
    billing_free_preview,
    billing_job_release,
    billing_job_reserve,
)
from core.emails import email_send
from core.errors import NotAllowed, ServiceError
from core.events import JOB_FAILED, JOB_READY, event_emit
from core.storage import candidate_keys
from core.tasks import task_enqueue
from privacy.services import consent_is_granted
from teams.models import Company, Membership, User
from teams.selectors import company_admins

from ..backends.adapters import backend_for
from ..candidate_images import candidate_jpegs
from ..job_photos import photo_forgotten, photo_stored
from ..jobs import job_transition
from ..models import Candidate, GenerationJob, JobSelfie, LookVersion, Selfie
from ..routing import Route, backend_route, fallback_route, job_route
from ..scoring import job_score
from .looks import look_version_for_member
from .selfies import selfies_consistent

log = logging.getLogger(__name__)
Status = GenerationJob.Status
Kind = GenerationJob.Kind
MStatus = Membership.Status

MIN_SELFIES = {Kind.SINGLE_SELFIE: 1, Kind.PREVIEW: 1, Kind.CONSISTENT_BATCH: 4}
# Seed indices per round of a person's photos: round n uses the company's schedule from
# n * SEED_ROUND, so a redo never meets an earlier round's seeds (nor its bytes), while
# everyone at the same round still shares seeds (a team still looks like one shoot).
SEED_ROUND = 1000


def seed_schedule(*, company: Company, count: int, start: int = 0) -> list[int]:
    """The company's fixed seeds: everyone in a company is generated with the same ones,
    so a team's photos share their randomness and look like one shoot."""
    seeds = []
    for index in range(start, start + count):
        digest = hashlib.sha256(f"likeness-seed:{company.pk}:{index}".encode()).digest()
        seeds.append(int.from_bytes(digest[:4], "big") % 2_000_000_000)
    return seeds


def seed_round(*, company: Company | int, membership_id: int, before: int | None = None) -> int:
    """How many of this person's jobs delivered photos (before job ``before``): the round
    the next job's seeds come from. Previews are samples, not the person's photos."""
    delivered = GenerationJob.objects.for_company(company).filter(
        membership_id=membership_id, status=Status.READY).exclude(kind=Kind.PREVIEW)
    if before is not None:
        delivered = delivered.filter(pk__lt=before)
    return delivered.count()


def job_create(
    *,
    company: Company,
    membership: Membership,
    requested_by: User,
    kind: str = Kind.SINGLE_SELFIE,
    look_version: LookVersion | None = None,
    selfies: list[Selfie] | None = None,
    redo_of: GenerationJob | None = None,
    instructions: str = "",
    sample_portrait: bool = False,
) -> GenerationJob:
    """Queue a job for one person. Checks consent, selfies, the approved look and billing.

    ``redo_of``: the job this one replaces; ``instructions``: what the person asked to
    change, carried to the backend (the prompt; the offline retouch's adjustments).
    ``sample_portrait``: a preview on the bundled public-domain portrait instead of selfies
    (no personal data of the admin's is used, so their consent is not needed for it)."""
    if membership.company_id != company.pk:
        raise NotAllowed("That person belongs to another company.")
    if sample_portrait and (kind != Kind.PREVIEW or selfies):
        raise ServiceError("Only a look preview is made on the sample portrait, and on it alone.")
    if not sample_portrait and not consent_is_granted(company=company, user=membership.user):
        raise ServiceError(f"{membership.user.get_full_name()} has not given consent.")
    if kind == Kind.PREVIEW:
        if look_version is None:
            raise ServiceError("A preview needs a look version.")
    else:
        look_version = look_version_for_member(company=company, membership=membership)
        if look_version is None:
            raise ServiceError("Your company has not approved a look yet. Your admin will let "
                               "you know when headshots can be made.")
    if look_version.company_id != company.pk:
        raise NotAllowed("That look belongs to another company.")
    if selfies is None and not sample_portrait:
        # Only a set that agrees on one identity feeds generation.
        selfies = selfies_consistent(list(Selfie.objects.for_company(company).filter(
            membership=membership, status=Selfie.Status.ACCEPTED).order_by("created_at", "pk")))
    selfies = selfies or []
    if any(s.company_id != company.pk or s.membership_id != membership.pk for s in selfies):
        raise NotAllowed("Those photos belong to someone else.")
    if len(selfies) < MIN_SELFIES[kind] and not sample_portrait:
        raise ServiceError(f"At least {MIN_SELFIES[kind]} usable selfie(s) are needed.")
    if kind != Kind.PREVIEW and GenerationJob.objects.for_company(company).filter(
        membership=membership, kind=kind, status__in=[Status.QUEUED, Status.RUNNING,
                                                       Status.SCORING]
    ).exists():
        raise ServiceError("Headshots are already being made for this person.")
    route = job_route(kind=kind)
    # Before buying, a company may see its look on a real face once, watermarked.
    watermarked = kind == Kind.PREVIEW and billing_free_preview(company=company)
    with transaction.atomic():
        job = GenerationJob.objects.create(
            company=company, membership=membership, kind=kind, look_version=look_version,
            watermarked=watermarked,
            backend=route.backend, backend_reason=route.reason, requested_by=requested_by,
            seeds=seed_schedule(company=company, count=settings.SEEDS_PER_JOB[route.backend],
                                start=SEED_ROUND * (0 if kind == Kind.PREVIEW else seed_round(
                                    company=company, membership_id=membership.pk))),
            redo_of=redo_of, instructions=" ".join(instructions.split())[:500],
            sample_portrait=sample_portrait,
        )
        JobSelfie.objects.bulk_create(
            [JobSelfie(company=company, job=job, selfie=selfie) for selfie in selfies])
        try:
            billing_job_reserve(company=company, job=job)
        except BillingLimitReached as exc:
            raise ServiceError(str(exc)) from exc
        if kind != Kind.PREVIEW:
            Membership.objects.for_company(company).filter(pk=membership.pk).update(
                status=MStatus.GENERATING)
        _dispatch(job, route)
    return job


def _dispatch(job: GenerationJob, route: Route) -> None:
    task_enqueue(route.task, job.pk, queue=route.queue)


def job_reroute(job: GenerationJob, *, reason: str) -> None:
    """Hand a job whose backend gave up to the offline backend; keep what it made."""
    route = fallback_route(reason=reason)
    with transaction.atomic():
        if not job_transition(job, Status.QUEUED, backend=route.backend,
                              backend_reason=route.reason, lease_until=None):
            return
        _dispatch(job, route)
    log.warning("job %s rerouted to %s: %s", job.pk, route.backend, reason)


def candidate_store(
    *, job: GenerationJob, seed: int, output_index: int, source_id: str,
    data: bytes | None = None, image: Image.Image | None = None, unseen: bool = False,
    still_open: Callable[[], bool] | None = None,
) -> Candidate | None:
    """Keep one produced image (``data`` as a backend sent it, or an ``image`` already
    decoded in this process). Returns None if this (seed, output) was already stored.

    Decodes what the backend sent (never trusting it), writes a clean JPEG and a
    thumbnail, and relies on the unique constraint so a redelivered task or a
    duplicated webhook cannot add the same image twice. ``unseen``: the caller has just
    found this (seed, output) not stored, so it is not looked up again (one query less
    per photo); a duplicate made meanwhile still meets the constraint, and its files go.
    ``still_open``: the caller's own check that the job is neither cancelled nor gone (the
    runner's renews its lease in the same statement), in place of this one's look-up.
    """
    if (data is None) == (image is None):
        raise TypeError("candidate_store takes data or image, one of them")
    if not unseen and Candidate.objects.for_company(job.company_id).filter(
            job=job, seed=seed, output_index=output_index).exists():
        return None
    if not (still_open() if still_open is not None else GenerationJob.objects.for_company(
            job.company_id).filter(pk=job.pk).exclude(status=Status.CANCELLED).exists()):
        # Cancelled, or erased with its person: a late output is not kept, not even as a
        # file (the orphan sweep would have to find it).
        return None
    if image is None:
        image = Image.open(io.BytesIO(data), formats=("PNG", "JPEG", "WEBP"))
        image.load()
    if image.mode != "RGB":  # converting an RGB image would only copy it
        image = image.convert("RGB")
    if job.watermarked:
        image = watermark(image)  # before any size is made: every size carries it
    full, thumb = candidate_jpegs(image)
    image_name, thumb_name = candidate_keys(company_id=job.company_id, job_id=job.pk, seed=seed,
                                            output_index=output_index)
    image_key = default_storage.save(image_name, ContentFile(full))
    photo_stored(image_key, image)  # the run's scoring judges these pixels, not storage's
    thumb_key = default_storage.save(thumb_name, ContentFile(thumb))
    try:
        # A savepoint only inside someone's transaction (a duplicate must not spoil it); on
        # its own the INSERT is atomic, without a BEGIN and a COMMIT around it.
        with transaction.atomic() if transaction.get_connection().in_atomic_block \
                else nullcontext():
            return Candidate.objects.create(
                company_id=job.company_id, job=job, membership_id=job.membership_id, seed=seed,
                output_index=output_index, source_id=source_id[:200], image_key=image_key,
                thumb_key=thumb_key, width=image.width, height=image.height,
            )
    except IntegrityError:
        photo_forgotten(image_key)
        default_storage.delete(image_key)
        default_storage.delete(thumb_key)
        return None


WATERMARK_TEXT = "PREVIEW · LIKENESS"


def watermark(image: Image.Image) -> Image.Image:
    """A visible diagonal watermark across the whole photo, readable at thumbnail size."""
    from PIL import ImageDraw, ImageFont

    width, height = image.size
    size = max(12, width // 12)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow without scalable default font
        font = ImageFont.load_default()
    tile = Image.new("RGBA", (width * 2, height * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    text_width = int(draw.textlength(WATERMARK_TEXT + "   ", font=font))
    line_height = int(size * 2.2)
    # Tiled across the whole photo, rows offset, so no crop of it escapes the mark.
    for row, y in enumerate(range(0, height * 2, line_height)):
        for x in range(-((row % 2) * text_width // 2), width * 2, text_width):
            draw.text((x, y), WATERMARK_TEXT, font=font, fill=(255, 255, 255, 170),
                      stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0, 120))
    tile = tile.rotate(30, resample=Image.Resampling.BICUBIC)
    left, top = (tile.width - width) // 2, (tile.height - height) // 2
    overlay = tile.crop((left, top, left + width, top + height))
    marked = image.convert("RGBA")
    marked.alpha_composite(overlay)
    return marked.convert("RGB")


def job_finish(job: GenerationJob) -> None:
    """All images are in: score them; then the job is ready, makes more, or honestly fails."""
    # Scoring holds a lease too: a worker that dies while scoring leaves a job that
    # recovery can see as stalled and another worker can take over (job_claim_scoring).
    lease_until = timezone.now() + timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    if job.status == Status.RUNNING and not job_transition(job, Status.SCORING,
                                                           lease_until=lease_until):
        return
    if job.status != Status.SCORING:
        return
    candidates = list(Candidate.objects.for_company(job.company_id).filter(job=job))
    if not candidates:
        job_fail(job, reason="No images were produced.")
        return
    outcome = job_score(job, candidates)
    wanted = min(settings.LIKENESS_MIN_SHOWN, settings.KEEP_PER_JOB.get(job.backend, 1))
    if outcome.passing < wanted:
        if job.regenerations < settings.LIKENESS_MAX_REGENERATIONS:
            job_regenerate(job)
            return
        if outcome.passing == 0:
            job_fail(job, reason=NO_LIKENESS_REASON)
            return
    # One transaction: a worker killed between "ready" and the charge would leave the
    # reservation open for good (the redelivered task finds the job ready and stops).
    with transaction.atomic():
        if not job_transition(job, Status.READY):
            return
        billing_job_release(company=job.company, job=job, consumed=True)
        if job.kind == Kind.PREVIEW:
            return
        Membership.objects.for_company(job.company_id).filter(
            pk=job.membership_id, status=MStatus.GENERATING).update(status=MStatus.REVIEW)
        _emit(job, JOB_READY)
        _notify_ready(job)


NO_LIKENESS_REASON = (
    "We could not make photos that look enough like you from these selfies, so none are "
    "shown and you are not charged. Clear, well-lit selfies from the front usually help; "
    "then try again."
)


def job_regenerate(job: GenerationJob) -> None:
    """Too few good likenesses: ask the same backend for a fresh set of seeds."""
    count = settings.SEEDS_PER_JOB[job.backend]
    first = 0 if job.kind == Kind.PREVIEW else SEED_ROUND * seed_round(
        company=job.company_id, membership_id=job.membership_id, before=job.pk)
    seeds = [*job.seeds, *seed_schedule(company=job.company, count=count,
                                        start=first + len(job.seeds))]
    with transaction.atomic():
        if not job_transition(job, Status.QUEUED, seeds=seeds, lease_until=None,
                              regenerations=job.regenerations + 1):
            return
        _dispatch(job, backend_route(backend=job.backend))
    log.info("job %s: too few good likenesses, making %s more", job.pk, count)


def _emit(job: GenerationJob, event: str) -> None:
    """Announce a person's job ending (a look preview is no one's headshot); ids only: the
    company's systems ask the API for more."""
    if job.kind == Kind.PREVIEW:
        return
    event_emit(event, company_id=job.company_id, job=job.pk, person=job.membership_id,
               kind=job.kind, status=job.status, failure_reason=job.failure_reason)


def job_fail(job: GenerationJob, *, reason: str) -> None:
    _job_give_up(job, Status.FAILED, reason)


def job_dead_letter(job: GenerationJob, *, reason: str) -> None:
    """Park a job that keeps killing its workers: not retried, not charged, shown to admins."""
    if _job_give_up(job, Status.DEAD, reason):
        log.error("job %s parked: %s", job.pk, reason)


def _job_give_up(job: GenerationJob, status: str, reason: str) -> bool:
    """End a job without photos: refunded, the person back where they were (a failed redo
    leaves them reviewing the photos it was to replace, and is not counted), announced; all
    or nothing, so a worker killed half-way leaves no job ended without its refund."""
    with transaction.atomic():
        if not job_transition(job, status, failure_reason=reason[:2000]):
            return False
        billing_job_release(company=job.company, job=job, consumed=False)
        Membership.objects.for_company(job.company_id).filter(
            pk=job.membership_id, status=MStatus.GENERATING).update(
            status=MStatus.REVIEW if job.redo_of_id else MStatus.UPLOADED)
        _emit(job, JOB_FAILED)
    return True


def job_cancel(*, company: Company, job: GenerationJob, reason: str) -> bool:
    """Cancel an open job, at the backend too. Images already made stay hidden."""
    if job.company_id != company.pk:
        raise NotAllowed("That job belongs to another company.")
    if not job.is_open:
        return False
    if not job_transition(job, Status.CANCELLED, failure_reason=reason[:2000]):
        return False
    backend_for(job.backend).cancel(job)  # at the backend too (Replicate's predictions)
    Candidate.objects.for_company(company).filter(job=job).update(
        visible=False, hidden_reason="job cancelled")
    billing_job_release(company=company, job=job, consumed=False)
    return True


def processing_stop_for_member(*, company: Company, membership: Membership) -> None:
    """Consent was withdrawn: nothing more may be done with this person's data.

    Open jobs are cancelled (at Replicate too), uploads are refused by the
    consent check, and the privacy sweeper erases what is stored.
    """
    open_jobs = GenerationJob.objects.for_company(company).filter(
        membership=membership, status__in=[Status.QUEUED, Status.RUNNING, Status.SCORING])
    for job in open_jobs:
        job_cancel(company=company, job=job, reason="Consent withdrawn.")


def _notify_ready(job: GenerationJob) -> None:
    membership = Membership.objects.for_company(job.company_id).select_related(
        "user", "team", "company").get(pk=job.membership_id)
    email_send(to=membership.user.email, template="candidates_ready",
               context={"membership": membership, "company": membership.company, "job": job})
    team = membership.team
    if team is None:
        return
    # The team's state in one query (not two look-ups and a count per admin e-mail).
    team_now = Membership.objects.for_company(job.company_id).filter(team=team).aggregate(
        generating=Count("pk", filter=Q(status=MStatus.GENERATING)),
        review=Count("pk", filter=Q(status=MStatus.REVIEW)))
    if team_now["generating"] or not team_now["review"]:
        return
    for admin in company_admins(company=job.company_id):
        email_send(to=admin.user.email, template="team_ready_for_review",
                   context={"team": team, "company": membership.company,
                            "count": team_now["review"]})
