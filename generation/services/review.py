"""Review: the employee picks, the admin approves or rejects; every decision is kept."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from core.events import HEADSHOT_APPROVED, HEADSHOT_REJECTED, event_emit
from teams.models import Company, Membership

from ..models import Candidate, GenerationJob, Headshot, ReviewDecision, Selfie
from ..selectors import candidate_may_leave
from .jobs import job_create

Action = ReviewDecision.Action
GATE_REFUSAL = ("That photo did not pass the checks every headshot must pass (one person, a "
                "good likeness, the company's look), so it cannot be picked or approved.")
MStatus = Membership.Status


def _decision(*, company: Company, membership: Membership, action: str, actor: Membership,
              candidate: Candidate | None = None, job: GenerationJob | None = None,
              reason: str = "") -> ReviewDecision:
    return ReviewDecision.objects.create(
        company=company, membership=membership, candidate=candidate, job=job, action=action,
        reason=reason.strip()[:500], actor=actor.user,
    )


def _check_candidate(company: Company, candidate: Candidate) -> None:
    if candidate.company_id != company.pk:
        raise NotAllowed("That photo belongs to another company.")
    if not candidate.visible:
        raise ServiceError("That photo is not available.")
    if not candidate_may_leave(candidate):
        raise ServiceError(GATE_REFUSAL)
    if candidate.job.kind == GenerationJob.Kind.PREVIEW:
        raise ServiceError("A look preview is a sample of the look, not a headshot.")


@transaction.atomic
def candidate_favourite_set(*, company: Company, actor: Membership, candidate: Candidate,
                            favourite: bool) -> Candidate:
    _check_candidate(company, candidate)
    if actor.pk != candidate.membership_id:
        raise NotAllowed("Only the person in the photo picks their favourites.")
    Candidate.objects.for_company(company).filter(pk=candidate.pk).update(is_favourite=favourite)
    candidate.is_favourite = favourite
    _decision(company=company, membership=actor, candidate=candidate, job=candidate.job,
              action=Action.FAVOURITE if favourite else Action.UNFAVOURITE, actor=actor)
    return candidate


def redos_used(*, company: Company, membership: Membership) -> int:
    """Redos spent: one counts once it delivered new photos. A redo still being made is
    not spent yet, and one that failed or was cancelled is given back by itself."""
    return ReviewDecision.objects.for_company(company).filter(
        membership=membership, action=Action.REDO,
        job__status=GenerationJob.Status.READY).count()


@transaction.atomic
def redo_request(*, company: Company, actor: Membership, reason: str = "") -> GenerationJob:
    """The employee asks for new photos, within the company's limit: the same kind of job
    as their latest (a consistent batch too), on fresh seeds, with their comment carried
    to the backend."""
    if redos_used(company=company, membership=actor) >= company.redo_limit:
        raise ServiceError(f"You have used all {company.redo_limit} redos. Ask your admin if "
                           "you need more.")
    latest = GenerationJob.objects.for_company(company).filter(membership=actor).exclude(
        kind=GenerationJob.Kind.PREVIEW).order_by("-queued_at", "-pk").first()
    if latest is None:
        raise ServiceError("Make your headshots first; then you can ask for new ones.")
    if latest.is_open:
        raise ServiceError("Wait for your current photos before asking for new ones.")
    # A failed redo is replaced, not stacked: the new one replaces what that one replaced.
    replaces = latest.redo_of if (latest.redo_of_id and latest.status != latest.Status.READY
                                  ) else latest
    job = job_create(company=company, membership=actor, requested_by=actor.user,
                     kind=latest.kind, redo_of=replaces, instructions=reason)
    _decision(company=company, membership=actor, action=Action.REDO, actor=actor, job=job,
              reason=reason)
    return job


@transaction.atomic
def headshot_approve(*, company: Company, actor: Membership, candidate: Candidate) -> Headshot:
    """The admin approves a person's pick: it becomes their current headshot."""
    if not actor.is_admin:
        raise NotAllowed("Only admins approve headshots.")
    _check_candidate(company, candidate)
    membership = Membership.objects.for_company(company).select_for_update().get(
        pk=candidate.membership_id)
    headshot, _ = Headshot.objects.for_company(company).update_or_create(
        company=company, membership=membership,
        defaults={"candidate": candidate, "approved_by": actor.user,
                  "approved_at": timezone.now()},
    )
    Membership.objects.for_company(company).filter(pk=membership.pk).update(
        status=MStatus.APPROVED)
    _decision(company=company, membership=membership, candidate=candidate, job=candidate.job,
              action=Action.APPROVE, actor=actor)
    # After the commit: the company's webhooks and directories hear of it.
    event_emit(HEADSHOT_APPROVED, company_id=company.pk, person=membership.pk,
               headshot=headshot.pk, approved_at=headshot.approved_at)
    return headshot


@transaction.atomic
def headshot_reject(*, company: Company, actor: Membership, candidate: Candidate,
                    reason: str) -> None:
    """The admin rejects a pick with a reason; the person sees it and can pick again or redo."""
    if not actor.is_admin:
        raise NotAllowed("Only admins review headshots.")
    _check_candidate(company, candidate)
    if len(reason.strip()) < 3:
        raise ServiceError("Say why, so the person knows what to change.")
    Candidate.objects.for_company(company).filter(pk=candidate.pk).update(is_favourite=False)
    decision = _decision(company=company, membership=candidate.membership, candidate=candidate,
                         job=candidate.job, action=Action.REJECT, actor=actor, reason=reason)
    # After the commit: the person is e-mailed the reason (generation.notifications).
    event_emit(HEADSHOT_REJECTED, company_id=company.pk, person=candidate.membership_id,
               decision=decision.pk)
    Membership.objects.for_company(company).filter(
        pk=candidate.membership_id, status=MStatus.APPROVED).update(status=MStatus.REVIEW)


def look_preview_create(*, company: Company, actor: Membership, version,
                        selfie: Selfie | None) -> GenerationJob:
    """Sample previews of a look version on a reference selfie, before approving it.

    The reference is the admin's own photo, uploaded with their own consent (job_create
    checks it): an employee consented to their headshots, not to samples of a draft look,
    and a preview made on them would be theirs (in their copy of their data).

    ``selfie=None``: on the bundled public-domain sample portrait (generation/sample_portrait),
    for an admin who has no selfie of their own or would rather not use it."""
    if not actor.is_admin:
        raise NotAllowed("Only the company's admins can preview looks.")
    if selfie is None:
        if version.company_id != company.pk:
            raise NotAllowed("That belongs to another company.")
        return job_create(company=company, membership=actor, requested_by=actor.user,
                          kind=GenerationJob.Kind.PREVIEW, look_version=version, selfies=[],
                          sample_portrait=True)
    if selfie.company_id != company.pk or version.company_id != company.pk:
        raise NotAllowed("That belongs to another company.")
    if selfie.membership_id != actor.pk:
        raise NotAllowed("Previews are made on your own photo: your colleagues consented to "
                         "their headshots, not to samples of a draft look.")
    if selfie.status != Selfie.Status.ACCEPTED:
        raise ServiceError("Choose a usable selfie as the reference.")
    return job_create(company=company, membership=actor, requested_by=actor.user,
                      kind=GenerationJob.Kind.PREVIEW, look_version=version, selfies=[selfie])
