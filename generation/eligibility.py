"""Who a team order (a consistent batch, or single-selfie headshots for everyone) takes.

One selector, read by the batches page (who is in, who is not and why, what it costs) and
by the service that starts the jobs, so the page never promises people the order leaves
out. A person is in when they have consented, have an accepted selfie set big enough for
the kind of job, have no headshots being made right now, and have no approved headshot in
the look that applies to them now, whatever step they are at (in review included). With
``everyone`` the admin also redoes people whose headshot is approved in the current look.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.http import QueryDict

from billing.limits import CreditQuote, billing_quote
from core.pagination import KeysetPage, keyset_page
from privacy.models import ConsentRecord
from teams.models import Company, Membership, MemberTally

from .models import GenerationJob, Headshot, LookVersion
from .services.jobs import MIN_SELFIES

MStatus = Membership.Status
OPEN = [GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING, GenerationJob.Status.SCORING]
APPROVED_IN_CURRENT_LOOK = "already has an approved headshot in the current look"
# Why someone is left out, as the SQL CASE of ``_why`` names it, and as the page says it.
WHY_INVITED, WHY_WITHDRAWN, WHY_NO_CONSENT = "invited", "withdrawn", "no_consent"
WHY_SELFIES, WHY_NO_LOOK, WHY_BUSY = "selfies", "no_look", "busy"
WHY_APPROVED_CURRENT = "approved_current"
REASONS = {
    WHY_INVITED: "has not accepted the invitation yet",
    WHY_WITHDRAWN: "has withdrawn consent",
    WHY_NO_CONSENT: "has not given consent",
    WHY_NO_LOOK: "no approved look applies to them yet",
    WHY_BUSY: "headshots are being made right now",
    WHY_APPROVED_CURRENT: APPROVED_IN_CURRENT_LOOK,
}


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


def _why(*, company: Company, kind: str, everyone: bool) -> Case:
    """Why a person is left out of a team order, as SQL (``""``: they are in): the rules of
    the module docstring in order, the first that applies wins. The database short-circuits
    the CASE, so the per-person lookups (latest consent, open jobs, approved headshot) run
    only for the people the cheap rules (invited, too few selfies) leave in."""
    team_versions, company_version = _current_versions(company)
    current = Case(*[When(team_id=team, then=Value(version))
                     for team, version in team_versions.items()],
                   default=Value(company_version), output_field=BigIntegerField())
    consent = Subquery(ConsentRecord.objects.for_company(company).filter(
        subject_user_id=OuterRef("user_id")).order_by("-pk").values("event")[:1])
    # Uncorrelated: the company's open jobs (few) are read once and looked up per person
    # (a hashed subplan on PostgreSQL, an ephemeral index on SQLite), not searched per person.
    busy = Q(pk__in=GenerationJob.objects.for_company(company).filter(
        status__in=OPEN).exclude(kind=GenerationJob.Kind.PREVIEW).values("membership_id"))
    approved_version = Subquery(Headshot.objects.for_company(company).filter(
        membership_id=OuterRef("pk")).values("candidate__job__look_version_id")[:1])
    ready = [When(accepted_selfies__lt=MIN_SELFIES[kind], then=Value(WHY_SELFIES))]
    if company_version is None:
        ready.append(When(Q(team_id__isnull=True) | ~Q(team_id__in=list(team_versions)),
                          then=Value(WHY_NO_LOOK)))
    ready.append(When(busy, then=Value(WHY_BUSY)))
    if not everyone:
        ready.append(When(Exact(approved_version, current),
                          then=Value(WHY_APPROVED_CURRENT)))
    return Case(
        When(status=MStatus.INVITED, then=Value(WHY_INVITED)),
        When(Exact(consent, Value(ConsentRecord.Event.GRANTED)),
             then=Case(*ready, default=Value(""))),
        When(status=MStatus.WITHDRAWN, then=Value(WHY_WITHDRAWN)),
        default=Value(WHY_NO_CONSENT), output_field=CharField())


def _people(*, company: Company, team_id: int | None, kind: str, everyone: bool):
    """The company's (or team's) people by name, each with ``why`` (``""``: included)."""
    people = Membership.objects.for_company(company).exclude(status=MStatus.LEFT)
    if team_id:
        people = people.filter(team_id=team_id)
    return people.annotate(why=_why(company=company, kind=kind, everyone=everyone)).order_by(
        "sort_name", "pk")


def _reason(person: Membership, code: str, kind: str) -> str:
    if code == WHY_SELFIES:
        return f"{person.accepted_selfies} of {MIN_SELFIES[kind]} usable selfies"
    return REASONS[code]


def batch_eligibility(*, company: Company, team_id: int | None = None,
                      kind: str = GenerationJob.Kind.CONSISTENT_BATCH,
                      everyone: bool = False) -> Eligibility:
    """Everyone in the company (or team) split into included and excluded with a reason:
    what an order starts (every person, one query)."""
    result = Eligibility()
    for person in _people(company=company, team_id=team_id, kind=kind,
                          everyone=everyone).select_related("user"):
        if person.why:
            result.excluded.append((person, _reason(person, person.why, kind)))
            result.approved_current += person.why == WHY_APPROVED_CURRENT
        else:
            result.included.append(person)
    team_versions, company_version = _current_versions(company)
    result.no_look = company_version is None and not team_versions
    result.quote = billing_quote(company=company, jobs=len(result.included))
    return result


@dataclass
class EligibilitySummary:
    """What the batches page shows: how many are in and out, and the first names of each."""

    ready: int
    left_out: int
    approved_current: int
    included: list[str]
    excluded: KeysetPage  # of (name, why)
    quote: CreditQuote


def batch_eligibility_summary(*, company: Company, team_id: int | None = None,
                              kind: str = GenerationJob.Kind.CONSISTENT_BATCH,
                              everyone: bool = False, listed: int = 50,
                              params: QueryDict | None = None) -> EligibilitySummary:
    """``batch_eligibility``'s split (the same SQL rules, so the page never promises people
    the order leaves out) as one counting query and the first ``listed`` names of each
    side, read along the (company, sort_name) index: no person loaded beyond those.
    ``params``: the request's page link for who is left out (``core.pagination``); raises
    BadCursor for a garbled one."""
    people = _people(company=company, team_id=team_id, kind=kind, everyone=everyone)
    # Only someone with enough accepted selfies (past the invitation) can be in: the
    # (company, status, accepted_selfies) index names them, and only they need the
    # per-person lookups; everyone else is counted from the kept tallies. (The statuses
    # named, not excluded: SQLite then reads that index's ranges, which it does not do for
    # a negation once the query is sorted.)
    past_invitation = [s for s in MStatus.values if s not in (MStatus.INVITED, MStatus.LEFT)]
    maybe = people.filter(accepted_selfies__gte=MIN_SELFIES[kind], status__in=past_invitation)
    # One pass over them in name order (the database's collation, as the order's list):
    # each counted, the first ``listed`` who are in kept. A second query for those names
    # looked everyone up again to sort them: on PostgreSQL it doubled the page's cost in
    # a large company. Sorted on COALESCE(sort_name, '') (never null: the same order) so
    # SQLite reads the selfies index and sorts instead of walking the company by name.
    counts: Counter[str] = Counter()
    first: list[int] = []
    for pk, why in maybe.order_by(Coalesce("sort_name", Value("")), "pk").values_list("pk", "why"):
        counts[why] += 1
        if not why and len(first) < listed:
            first.append(pk)
    tallies = MemberTally.objects.for_company(company).exclude(status=MStatus.LEFT)
    if team_id:
        tallies = tallies.filter(team_key=team_id)
    total = tallies.aggregate(n=Sum("n"))["n"] or 0
    def name(row: dict) -> str:
        return row["user__full_name"] or row["user__email"]

    fields = ("id", "sort_name", "user__full_name", "user__email", "accepted_selfies", "why")
    names = {pk: full or email for pk, full, email in Membership.objects.for_company(
        company).filter(pk__in=first).values_list("pk", "user__full_name", "user__email")}
    included = [names[pk] for pk in first]
    # Who is left out, a keyset page at a time (by name, as the index reads them).
    page = keyset_page(people.exclude(why="").values(*fields), key="sort_name",
                       params=params if params is not None else QueryDict(),
                       per_page=listed, anchors=Membership.objects.for_company(company))
    page.items = [(name(row), _reason(Membership(accepted_selfies=row["accepted_selfies"]),
                                      row["why"], kind)) for row in page.items]
    ready = counts.get("", 0)
    return EligibilitySummary(
        ready=ready, left_out=total - ready,
        approved_current=counts.get(WHY_APPROVED_CURRENT, 0),
        included=included, excluded=page,
        quote=billing_quote(company=company, jobs=ready))


@dataclass(frozen=True)
class Outdated:
    """A person whose approved headshot was made in an older version of their look."""

    member: Membership
    approved_version: int  # the version number it was made in
    current_version: int
    kind: str  # the kind of job that made it: a redo is made the same way


def outdated_names(*, company: Company, limit: int = 5) -> tuple[int, list[str]]:
    """How many approved headshots are outdated (``headshots_outdated``'s rule) and the
    first names, for the dashboard's notice on every load: a count and ``limit`` names, the
    rule in SQL. Where only the company has a look, a headshot made in its current version
    cannot be outdated, so only the jobs of its other versions are looked at (an index on
    the job's version): nothing is read per approved person in the usual case."""
    team_versions, company_version = _current_versions(company)
    if company_version is None and not team_versions:
        return 0, []
    current = Case(*[When(membership__team_id=team, then=Value(version))
                     for team, version in team_versions.items()],
                   default=Value(company_version), output_field=BigIntegerField())
    rows = Headshot.objects.for_company(company).exclude(membership__status=MStatus.LEFT)
    if not team_versions:
        others = list(LookVersion.objects.for_company(company).exclude(
            pk=company_version).values_list("pk", flat=True))
        rows = rows.filter(Q(candidate__job__look_version_id__in=others)
                           | Q(candidate__job__look_version_id__isnull=True))
    rows = rows.alias(current=current).filter(current__isnull=False).exclude(
        candidate__job__look_version_id=F("current"))
    count = rows.count()
    if not count:
        return 0, []
    names = [name or email for name, email in rows.order_by(
        "membership__sort_name", "membership_id").values_list(
        "membership__user__full_name", "membership__user__email")[:limit]]
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
