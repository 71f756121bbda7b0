from __future__ import annotations

import statistics

import numpy as np
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from teams.models import Company, Membership

from .colour import delta_e_2000, hex_to_rgb, srgb_to_lab
from .conformance import tolerances_for
from .looks import look_spec
from .models import Candidate, GenerationJob, Headshot, LookVersion, ReviewDecision, Selfie

# The one rule every exit applies (pages, pick, approve, API, ZIP/CSV export, signed image
# links, directory sync, webhooks): a candidate leaves only when scoring showed it and it
# passed every gate. ``visible`` alone is not enough: a candidate stored before the gates,
# or shown by a bug, still stays in.
MAY_LEAVE = Q(visible=True, gates_passed=True)
HEADSHOT_MAY_LEAVE = Q(candidate__visible=True, candidate__gates_passed=True)


def candidates_that_may_leave(*, company: Company | int) -> QuerySet:
    return Candidate.objects.for_company(company).filter(MAY_LEAVE)


def candidate_may_leave(candidate) -> bool:
    return bool(candidate.visible and candidate.gates_passed)


def headshots_that_may_leave(*, company: Company | int) -> QuerySet:
    """Approved headshots whose photo may leave (see MAY_LEAVE)."""
    return Headshot.objects.for_company(company).filter(HEADSHOT_MAY_LEAVE)


def headshots_that_may_leave_in_order(*, company: Company | int) -> QuerySet:
    """``headshots_that_may_leave`` for a page read in the index's order with a LIMIT (the
    API's list, by approval time): the same rows, the rule checked per headshot by a
    subquery. As a join, PostgreSQL estimates that few headshots pass the rule (it cannot
    know that an approved photo nearly always does), so it joined and sorted every headshot
    of the company for each page (4.5 ms for 1,000 headshots, growing with the company);
    a subquery is not flattened into the join, so the page reads the (company,
    approved_at, id) index and stops after the page (0.9 ms)."""
    may_leave = candidates_that_may_leave(company=company).filter(pk=OuterRef("candidate_id"))
    return Headshot.objects.for_company(company).alias(
        may_leave=Subquery(may_leave.order_by().values("pk")[:1])).filter(may_leave__isnull=False)


def candidates_hidden_for_audit(*, company: Company, limit: int = 200) -> QuerySet:
    """Scored candidates that failed a gate, newest first: for the admins' audit view only."""
    return (Candidate.objects.for_company(company)
            .filter(scored_at__isnull=False, gates_passed=False)
            .select_related("membership__user", "job").order_by("-scored_at", "-pk")[:limit])


def selfie_list(*, company: Company, membership: Membership) -> QuerySet[Selfie]:
    return Selfie.objects.for_company(company).filter(membership=membership)


def selfie_get(*, company: Company, pk: int) -> Selfie | None:
    return Selfie.objects.for_company(company).select_related("membership").filter(pk=pk).first()


def job_latest(*, company: Company, membership: Membership, kind: str | None = None):
    qs = GenerationJob.objects.for_company(company).filter(membership=membership)
    qs = qs.filter(kind=kind) if kind else qs.exclude(kind=GenerationJob.Kind.PREVIEW)
    return qs.select_related("look_version").order_by("-queued_at", "-pk").first()


def candidates_visible(*, company: Company, job) -> QuerySet:

    return candidates_that_may_leave(company=company).filter(job=job)


def candidate_get(*, company: Company, pk: int):
    return Candidate.objects.for_company(company).select_related("job").filter(pk=pk).first()


def look_versions(*, company: Company):
    return (LookVersion.objects.for_company(company).select_related("look", "look__team")
            .order_by("look__team__name", "-version"))


def look_version_get(*, company: Company, pk: int):
    return LookVersion.objects.for_company(company).select_related("look", "look__team").filter(
        pk=pk).first()


def review_members(*, company: Company, team_id: int | None = None, no_team: bool = False):
    """People ready for review or approved, by name (the index on the membership's sort key):
    what the review page and the uniformity report page through."""
    members = Membership.objects.for_company(company).filter(
        status__in=[Membership.Status.REVIEW, Membership.Status.APPROVED]
    ).select_related("user", "team").order_by("sort_name", "pk")
    if no_team:
        members = members.filter(team__isnull=True)
    elif team_id:
        members = members.filter(team_id=team_id)
    return members


def review_rows(*, company: Company, team_id: int | None = None, members=None):
    """One row per person ready for review or approved: their pick, or else their best photo.
    ``members``: these people only (a page); default everyone of ``review_members``."""
    if members is None:
        members = review_members(company=company, team_id=team_id)
    members = list(members)
    ids = [m.pk for m in members]
    # Look previews are samples of a draft look made on someone's selfie: never a headshot.
    visible = candidates_that_may_leave(company=company).filter(
        membership_id__in=ids).exclude(
        job__kind=GenerationJob.Kind.PREVIEW).select_related("job").order_by(
        "-is_favourite", "-job__queued_at", "-likeness", "seed").only(
        # What a card shows: a page reads two or more candidates a person, and their
        # conformance figures and keys are most of a row.
        "membership_id", "is_favourite", "likeness", "seed", "job_id", "job__backend",
        "job__queued_at")
    first: dict[int, Candidate] = {}
    count: dict[int, int] = {}
    for candidate in visible:
        first.setdefault(candidate.membership_id, candidate)
        count[candidate.membership_id] = count.get(candidate.membership_id, 0) + 1
    headshots = {h.membership_id: h for h in headshots_that_may_leave(company=company).filter(
        membership_id__in=ids).only("membership_id", "candidate_id")}
    return [{"member": m, "pick": first.get(m.pk), "choices": count.get(m.pk, 0),
             "headshot": headshots.get(m.pk)} for m in members]


def review_history(*, company: Company, limit: int = 50):
    return ReviewDecision.objects.for_company(company).select_related(
        "membership__user", "actor")[:limit]


# What the uniformity report compares, in order: (metric key, label, unit format).
UNIFORMITY_METRICS = [
    ("backdrop_delta_e", "Backdrop ΔE", "{:.1f}"),
    ("face_height", "Face height", "{:.0%}"),
    ("face_centre_x", "Face centre", "{:.0%}"),
    ("eye_line", "Eye line", "{:.0%}"),
    ("roll_degrees", "Head roll", "{:.1f}°"),
]
# The smallest spread that means anything to the eye, per metric: a team whose photos all
# match closely must not get "outliers" out of differences nobody can see.
_NOTICEABLE = {"backdrop_delta_e": 1.0, "face_height": 0.01, "face_centre_x": 0.01,
               "eye_line": 0.01, "roll_degrees": 1.0}
OUTLIER_Z = 2.5  # robust z-score (median / MAD) beyond which a photo stands out of its team


def _robust_outliers(values: dict[int, float], *, noticeable: float) -> set[int]:
    """Keys whose value stands out from the others (median absolute deviation)."""
    if len(values) < 3:
        return set()
    median = statistics.median(values.values())
    mad = statistics.median(abs(v - median) for v in values.values())
    scale = max(1.4826 * mad, noticeable)
    return {key for key, v in values.items() if abs(v - median) / scale > OUTLIER_Z}


def _team_target(company: Company, team_id: int | None) -> tuple[object, object]:
    """The team's approved look version (its own, else the company's) and its tolerances."""
    # One query: the team's own approved version sorts before the company's.
    version = LookVersion.objects.for_company(company).filter(
        Q(look__team_id=team_id) | Q(look__team__isnull=True), status="approved",
    ).select_related("look").order_by(F("look__team_id").asc(nulls_last=True)).first()
    if version is None:
        return None, None
    return version, tolerances_for(look_spec(version), version.tolerances)


def _against_target(conformance: dict, version, tolerances) -> tuple[dict, set[str]]:
    """A photo's metrics measured against the team's look (not the look it was made for),
    and which of them break that look's tolerances."""
    values = {key: float(conformance[key]) for key, _, _ in UNIFORMITY_METRICS
              if isinstance(conformance.get(key), (int, float))}
    if version is None:
        return values, set()
    lab = conformance.get("backdrop_lab")
    if isinstance(lab, list) and len(lab) == 3:
        target = srgb_to_lab(np.array(hex_to_rgb(version.backdrop_color), dtype=np.float64))
        values["backdrop_delta_e"] = round(float(delta_e_2000(np.asarray(lab), target)), 2)
    broken = set()
    checks = {
        "backdrop_delta_e": lambda v: v <= tolerances.backdrop_delta_e_max,
        "face_height": lambda v: tolerances.face_height_min <= v <= tolerances.face_height_max,
        "face_centre_x": lambda v: abs(v - 0.5) <= tolerances.centre_x_offset_max,
        "eye_line": lambda v: tolerances.eye_line_min <= v <= tolerances.eye_line_max,
        "roll_degrees": lambda v: abs(v) <= tolerances.roll_degrees_max,
    }
    for key, ok in checks.items():
        if key in values and not ok(values[key]):
            broken.add(key)
    return values, broken


def _team_photos(*, company: Company, member_ids: list[int]) -> dict[int, dict]:
    """Each person's photo for the report (approved headshot, else their pick, else their
    best) as {membership id: {"pk", "conformance", "approved"}}: plain rows, no models, so
    a team of hundreds is one short pass."""
    approved = dict(headshots_that_may_leave(company=company).filter(
        membership_id__in=member_ids).values_list("membership_id", "candidate_id"))
    photos: dict[int, dict] = {}
    conformance: dict[int, dict] = {}
    for member, pk, metrics in Candidate.objects.for_company(company).filter(
            MAY_LEAVE, membership_id__in=member_ids).exclude(
            job__kind=GenerationJob.Kind.PREVIEW).order_by(
            "-is_favourite", "-job__queued_at", "-likeness", "seed").values_list(
            "membership_id", "pk", "conformance"):
        conformance[pk] = metrics or {}
        photos.setdefault(member, {"pk": pk, "conformance": metrics or {}, "approved": False})
    missing = [pk for pk in approved.values() if pk not in conformance]
    if missing:
        conformance.update(Candidate.objects.for_company(company).filter(
            pk__in=missing).values_list("pk", "conformance"))
    for member, pk in approved.items():
        photos[member] = {"pk": pk, "conformance": conformance.get(pk) or {}, "approved": True}
    return photos


def uniformity_report(*, company: Company, team_id: int | None = None, no_team: bool = False,
                      shown=None) -> list[dict]:
    """Per team: each person's photo (approved headshot, else their pick, else their best),
    each metric's spread, and the photos that stand out or break the look's tolerances.

    Measured against **the team's approved look version** (backdrop colour and framing
    bands), not each photo's own look: two photos each true to its own look (one navy, one
    grey) still differ from the team's. The spreads and outliers are over the whole team;
    ``shown`` (members, e.g. a page of ``review_members``) limits the people listed, in its
    order. Without ``team_id`` or
    ``no_team``, every team.
    """
    members = list(review_members(company=company, team_id=team_id, no_team=no_team)
                   .values_list("pk", "team_id", "team__name", "user__full_name",
                                "user__email"))
    photos = _team_photos(company=company, member_ids=[m[0] for m in members])
    teams: dict[int | None, dict] = {}
    for pk, team, team_name, name, email in members:
        photo = photos.get(pk)
        if photo is None:
            continue
        entry = teams.setdefault(team, {"team": {"pk": team, "name": team_name} if team else None,
                                        "people": [], "count": 0})
        entry["count"] += 1
        entry["people"].append({"member_id": pk, "name": name or email, "photo": photo,
                                "approved": photo["approved"]})
    order = {m.pk: i for i, m in enumerate(shown)} if shown is not None else None
    report = []
    for entry in sorted(teams.values(), key=lambda e: (e["team"] is None,
                                                       e["team"]["name"] if e["team"] else "")):
        people = entry["people"]
        version, tolerances = _team_target(company, entry["team"]["pk"] if entry["team"] else None)
        for person in people:
            person["values"], person["broken"] = _against_target(
                person["photo"]["conformance"], version, tolerances)
        metrics = []
        for key, label, fmt in UNIFORMITY_METRICS:
            values = {p["photo"]["pk"]: p["values"][key] for p in people if key in p["values"]}
            broken = {p["photo"]["pk"] for p in people if key in p["broken"]}
            outliers = _robust_outliers(values, noticeable=_NOTICEABLE[key]) | broken
            spread = (max(values.values()) - min(values.values())) if values else None
            metrics.append({
                "key": key, "label": label, "count": len(values),
                "spread": fmt.format(spread) if spread is not None else "—",
                "stdev": fmt.format(statistics.pstdev(values.values())) if values else "—",
                "outliers": outliers,
            })
        for person in people:
            pk = person["photo"]["pk"]
            person["cells"] = [
                {"label": label, "value": (fmt.format(person["values"][key])
                                           if key in person["values"] else "—"),
                 "outlier": pk in metric["outliers"]}
                for (key, label, fmt), metric in zip(UNIFORMITY_METRICS, metrics, strict=True)
            ]
            person["outlier"] = any(cell["outlier"] for cell in person["cells"])
        outlying = sum(1 for p in people if p["outlier"])
        if order is not None:
            people = sorted((p for p in people if p["member_id"] in order),
                            key=lambda p: order[p["member_id"]])
        report.append({"team": entry["team"], "people": people, "metrics": metrics,
                       "count": entry["count"], "outliers": outlying, "version": version})
    return report


def batch_progress(*, company: Company, team_id: int | None, limit: int = 200):
    """The latest consistent-batch job per person, with the worker's progress."""
    jobs = GenerationJob.objects.for_company(company).filter(
        kind=GenerationJob.Kind.CONSISTENT_BATCH).select_related(
        "membership__user", "membership__team").order_by("-queued_at")
    if team_id:
        jobs = jobs.filter(membership__team_id=team_id)
    latest: dict[int, GenerationJob] = {}
    for job in jobs[:limit]:
        latest.setdefault(job.membership_id, job)
    return sorted(latest.values(), key=lambda j: (j.membership.user.full_name or "").lower())


def jobs_in_progress(*, company: Company, team_id: int | None, limit: int = 20):
    """Headshots being made right now (not look previews), oldest first, for the review page
    to follow live: when one ends its photos are ready for review."""
    jobs = GenerationJob.objects.for_company(company).filter(
        status__in=[GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING,
                    GenerationJob.Status.SCORING]).exclude(
        kind=GenerationJob.Kind.PREVIEW).select_related("membership__user").order_by(
        "queued_at", "pk")
    if team_id:
        jobs = jobs.filter(membership__team_id=team_id)
    return list(jobs[:limit])
