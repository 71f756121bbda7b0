"""The employee's headshots: progress, candidates, favourites, redo."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import ServiceError
from teams.decorators import company_view

from ..backends.offline_redo import redo_adjustments
from ..backends.replicate_errors import ReplicateError
from ..backends.replicate_inputs import model_spec
from ..models import Candidate, GenerationJob, ReviewDecision
from ..scoring import HIDDEN_GATES, HIDDEN_LIKENESS, HIDDEN_NO_FACE
from ..selectors import (
    candidate_get,
    candidate_may_leave,
    candidates_visible,
    headshots_that_may_leave,
    job_latest,
)
from ..services.jobs import job_create
from ..services.looks import look_version_for_member
from ..services.review import GATE_REFUSAL, candidate_favourite_set, redo_request, redos_used
from .access import own_or_admin, private_photo_view

STAGE_LABELS = {
    "queued": "Queued: waiting for a worker",
    "training": "Training your personal model",
    "generating": "Generating photos",
    "scoring": "Checking likeness",
    "ready": "Ready",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "dead": "Stopped",
}


def job_stage(job: GenerationJob) -> str:
    """Where a job is, in the words people watching it need: queued, training (the GPU
    backend's personal model), generating, scoring, ready (or how it ended)."""
    if job.status == GenerationJob.Status.RUNNING:
        phase = (job.progress or {}).get("phase")
        return phase if phase in ("training", "generating") else "generating"
    return job.status


def _progress(request: HttpRequest, job: GenerationJob | None) -> dict:
    if job is None:
        return {"job": None}
    made = Candidate.objects.for_company(request.company).filter(job=job).count()
    # How many were held back as not a good likeness: a number, never the photos.
    hidden = Candidate.objects.for_company(request.company).filter(job=job, visible=False)
    not_alike = hidden.filter(hidden_reason=HIDDEN_LIKENESS).count()
    not_kept = hidden.filter(hidden_reason__in=[HIDDEN_GATES, HIDDEN_NO_FACE]).count()
    slug = request.company.slug
    stage = job_stage(job)
    return {
        "job": job.pk, "status": job.status, "status_label": job.get_status_display(),
        "stage": stage, "stage_label": STAGE_LABELS.get(stage, job.get_status_display()),
        "step": (job.progress or {}).get("step"), "total": (job.progress or {}).get("total"),
        "open": job.is_open, "made": made, "expected": len(job.seeds), "not_alike": not_alike,
        "not_kept": not_kept,
        "backend": job.get_backend_display(), "backend_reason": job.backend_reason,
        "candidates": [
            {"id": c.pk, "favourite": c.is_favourite,
             "thumb_url": reverse("generation:candidate_thumb",
                                  kwargs={"company_slug": slug, "pk": c.pk})}
            for c in candidates_visible(company=request.company, job=job)
        ],
    }


@require_GET
@company_view(role="member")
def headshots(request: HttpRequest) -> HttpResponse:
    company, membership = request.company, request.membership
    job = job_latest(company=company, membership=membership)
    # A redo that failed was given back; the photos it was to replace are still theirs.
    shown = job.redo_of if (job and job.status != job.Status.READY and not job.is_open
                            and job.redo_of_id) else job
    last_reject = ReviewDecision.objects.for_company(company).filter(
        membership=membership, action__in=[ReviewDecision.Action.REJECT,
                                           ReviewDecision.Action.APPROVE]).first()
    return render(request, "generation/headshots.html", {
        "job": job,
        "progress": _progress(request, job),
        "candidates": list(candidates_visible(company=company, job=shown)) if shown else [],
        "redo_failed": shown is not job,
        "look": look_version_for_member(company=company, membership=membership),
        "headshot": headshots_that_may_leave(company=company).filter(
            membership=membership).select_related("candidate").first(),
        "redos_left": max(0, company.redo_limit - redos_used(company=company,
                                                             membership=membership)),
        "last_decision": last_reject,
        # What the download offers (delivery.variants; generation cannot import it).
        "download_sizes": (256, 512, 1024),
    })


@require_GET
@company_view(role="member")
def headshots_progress(request: HttpRequest) -> JsonResponse:
    job = job_latest(company=request.company, membership=request.membership)
    return JsonResponse(_progress(request, job))


@require_GET
@company_view(role="member")
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    """One job's progress, for the page that follows it: the person it is for and the
    company's admins; anyone else gets the 404 of a job that does not exist."""
    job = own_or_admin(request, GenerationJob.objects.for_company(request.company)
                       .filter(pk=pk).first())
    return JsonResponse(_progress(request, job))


@require_POST
@company_view(role="member")
def headshots_start(request: HttpRequest) -> HttpResponse:
    try:
        job = job_create(company=request.company, membership=request.membership,
                         requested_by=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Your headshots are being made ({job.get_backend_display()}).")
    return redirect("generation:headshots", company_slug=request.company.slug)


@require_POST
@company_view(role="member")
def headshots_redo(request: HttpRequest) -> HttpResponse:
    reason = request.POST.get("reason", "")
    try:
        job = redo_request(company=request.company, actor=request.membership, reason=reason)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "New photos are being made. This redo counts only once "
                                  "they are delivered." + _comment_note(job))
    return redirect("generation:headshots", company_slug=request.company.slug)


def _model_takes_prompt() -> bool:
    try:
        return model_spec(settings.REPLICATE_MODEL).takes_prompt
    except ReplicateError:  # not configured: nothing will read the comment there
        return False


def _comment_note(job: GenerationJob) -> str:
    """What the backend does with the person's comment, said plainly."""
    if not job.instructions:
        return ""
    if job.backend == GenerationJob.Backend.REPLICATE and not _model_takes_prompt():
        return (" The headshot model in use takes no written instructions, so your comment "
                "is kept for your admin; the new photos are made on new seeds.")
    if job.backend != GenerationJob.Backend.OFFLINE:
        return " Your comment goes to the model with your company's look."
    understood = redo_adjustments(job.instructions).understood
    if understood:
        return f" The studio retouch makes them {' and '.join(understood)}."
    return (" The studio retouch cannot follow that comment: it can make photos brighter or "
            "darker, warmer or cooler, or crop them tighter.")


def _visible_candidate(request: HttpRequest, pk: int) -> Candidate:
    """Shown to the person in it and to admins, and only once scoring let it through."""
    candidate = own_or_admin(request, candidate_get(company=request.company, pk=pk))
    if not candidate_may_leave(candidate):
        raise Http404("No such page.")
    return candidate


@require_POST
@company_view(role="member")
def candidate_favourite(request: HttpRequest, pk: int) -> HttpResponse:
    candidate = own_or_admin(request, candidate_get(company=request.company, pk=pk))
    if not candidate_may_leave(candidate):
        # Refused on the server, whatever the page showed: nothing changes.
        return HttpResponse(GATE_REFUSAL, status=409, content_type="text/plain; charset=utf-8")
    try:
        candidate_favourite_set(company=request.company, actor=request.membership,
                                candidate=candidate,
                                favourite=request.POST.get("favourite", "1") == "1")
    except ServiceError as error:
        messages.error(request, str(error))
    return redirect("generation:headshots", company_slug=request.company.slug)


candidate_image = private_photo_view(_visible_candidate, "image_key")
candidate_thumb = private_photo_view(_visible_candidate, "thumb_key")
