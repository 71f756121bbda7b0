"""Who a team order (a consistent batch, or single-selfie headshots for everyone) takes.

One selector, read by the batches page (who is in, who is not and why, what it costs) and
by the service that starts the jobs, so the page never promises people the order leaves
out. A person is in when they have consented, have an accepted selfie set big enough for
the kind of job, have no headshots being made right now, and have no approved headshot in
the look that applies to them now, whatever step they are at (in review included). With
``everyone`` the admin also redoes people whose headshot is approved in the current look.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from billing.limits import CreditQuote, billing_quote
from privacy.models import ConsentRecord
from teams.models import Company, Membership

from .models import GenerationJob, Headshot, LookVersion
from .services.jobs import MIN_SELFIES

MStatus = Membership.Status
OPEN = [GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING, GenerationJob.Status.SCORING]
APPROVED_IN_CURRENT_LOOK = "already has an approved headshot in the current look"


@dataclass
class Eligibility:
    included: list[Membership] = field(default_factory=list)
    excluded: list[tuple[Membership, str]] = field(default_factory=list)
    quote: CreditQuote | None = None
    # People left out only because their headshot is approved in the current look: the
    # "everyone" choice brings them in.
    approved_current: int = 0
    no_look: bool = False


def _current_versions(company: Company) -> tuple[dict[int | None, int], int | None]:
    """The approved version per team that has its own look, and the company's."""
    teams: dict[int | None, int] = {}
    company_version = None
    for pk, team_id in LookVersion.objects.for_company(company).filter(
            status=LookVersion.Status.APPROVED).values_list("pk", "look__team_id"):
        if team_id is None:
            company_version = pk
        else:
            teams[team_id] = pk
    return teams, company_version


def batch_eligibility(*, company: Company, team_id: int | None = None,
                      kind: str = GenerationJob.Kind.CONSISTENT_BATCH,
                      everyone: bool = False) -> Eligibility:
    """Everyone in the company (or team) split into included and excluded with a reason."""
    people = list(Membership.objects.for_company(company).exclude(status=MStatus.LEFT)
                  .select_related("user").order_by("sort_name", "pk"))
    if team_id:
        people = [p for p in people if p.team_id == team_id]
    ids = [p.pk for p in people]
    latest_consent: dict[int, str] = {}
    for user_id, event in ConsentRecord.objects.for_company(company).filter(
            subject_user_id__in=[p.user_id for p in people]).order_by(
            "subject_user_id", "pk").values_list("subject_user_id", "event"):
        latest_consent[user_id] = event  # the last one per person wins
    busy = set(GenerationJob.objects.for_company(company).filter(
        membership_id__in=ids, status__in=OPEN).exclude(
        kind=GenerationJob.Kind.PREVIEW).values_list("membership_id", flat=True))
    approved_version = dict(Headshot.objects.for_company(company).filter(
        membership_id__in=ids).values_list("membership_id", "candidate__job__look_version_id"))
    team_versions, company_version = _current_versions(company)
    needed = MIN_SELFIES[kind]
    result = Eligibility()
    for person in people:
        current = team_versions.get(person.team_id, company_version)
        why = ""
        if person.status == MStatus.INVITED:
            why = "has not accepted the invitation yet"
        elif latest_consent.get(person.user_id) != ConsentRecord.Event.GRANTED:
            why = ("has withdrawn consent" if person.status == MStatus.WITHDRAWN
                   else "has not given consent")
        elif person.accepted_selfies < needed:
            why = f"{person.accepted_selfies} of {needed} usable selfies"
        elif current is None:
            why = "no approved look applies to them yet"
        elif person.pk in busy:
            why = "headshots are being made right now"
        elif approved_version.get(person.pk) == current and not everyone:
            why = APPROVED_IN_CURRENT_LOOK
            result.approved_current += 1
        if why:
            result.excluded.append((person, why))
        else:
            result.included.append(person)
    result.no_look = company_version is None and not team_versions
    result.quote = billing_quote(company=company, jobs=len(result.included))
    return result


@dataclass(frozen=True)
class Outdated:
    """A person whose approved headshot was made in an older version of their look."""

    member: Membership
    approved_version: int  # the version number it was made in
    current_version: int
    kind: str  # the kind of job that made it: a redo is made the same way


def outdated_names(*, company: Company, limit: int = 5) -> tuple[int, list[str]]:
    """How many approved headshots are outdated (``headshots_outdated``'s rule) and the
    first names: one query of plain values, for the dashboard's notice on every load."""
    team_versions, company_version = _current_versions(company)
    count, names = 0, []
    for team_id, version_id, name, email in Headshot.objects.for_company(company).exclude(
            membership__status=MStatus.LEFT).order_by("membership__sort_name").values_list(
            "membership__team_id", "candidate__job__look_version_id",
            "membership__user__full_name", "membership__user__email"):
        current = team_versions.get(team_id, company_version)
        if current is not None and version_id != current:
            count += 1
            if len(names) < limit:
                names.append(name or email)
    return count, names


def headshots_outdated(*, company: Company) -> list[Outdated]:
    """People whose approved headshot was made under a version of the look that applies to
    them now that is no longer the approved one (a new version was approved since), by
    name. People who left are not regenerated (their kept headshot is all that is left)."""
    team_versions, company_version = _current_versions(company)
    numbers = dict(LookVersion.objects.for_company(company).values_list("pk", "version"))
    rows = (Headshot.objects.for_company(company).exclude(membership__status=MStatus.LEFT)
            .select_related("membership__user", "candidate__job")
            .order_by("membership__sort_name", "membership_id"))
    found = []
    for headshot in rows:
        member, job = headshot.membership, headshot.candidate.job
        current = team_versions.get(member.team_id, company_version)
        if current is None or job.look_version_id == current:
            continue
        kind = (job.kind if job.kind != GenerationJob.Kind.PREVIEW
                else GenerationJob.Kind.SINGLE_SELFIE)
        found.append(Outdated(member=member, approved_version=numbers[job.look_version_id],
                              current_version=numbers[current], kind=kind))
    return found


@dataclass
class OutdatedPlan:
    ready: list[Outdated] = field(default_factory=list)
    blocked: list[tuple[Outdated, str]] = field(default_factory=list)
    quote: CreditQuote | None = None


def outdated_plan(*, company: Company) -> OutdatedPlan:
    """Who regenerating the outdated headshots takes now, who it cannot and why (no
    consent, selfies gone under the retention schedule, photos being made), and the
    cost: the same rules as a batch (``batch_eligibility``)."""
    plan = OutdatedPlan()
    rows = headshots_outdated(company=company)
    checks: dict[str, Eligibility] = {}
    for kind in {row.kind for row in rows}:
        checks[kind] = batch_eligibility(company=company, kind=kind)
    for row in rows:
        check = checks[row.kind]
        if any(m.pk == row.member.pk for m in check.included):
            plan.ready.append(row)
        else:
            why = next((w for m, w in check.excluded if m.pk == row.member.pk),
                       "cannot be regenerated now")
            plan.blocked.append((row, why))
    plan.quote = billing_quote(company=company, jobs=len(plan.ready))
    return plan
