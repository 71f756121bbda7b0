from __future__ import annotations

import statistics

from django.db.models import Count, Q, QuerySet

from privacy.services import consent_is_granted
from teams.models import Company, Membership

from .models import Candidate, GenerationJob, Headshot, LookVersion, ReviewDecision, Selfie
from .services.jobs import MIN_SELFIES


def selfie_list(*, company: Company, membership: Membership) -> QuerySet[Selfie]:
    return Selfie.objects.for_company(company).filter(membership=membership)


def selfie_get(*, company: Company, pk: int) -> Selfie | None:
    return Selfie.objects.for_company(company).select_related("membership").filter(pk=pk).first()


def job_latest(*, company: Company, membership: Membership, kind: str | None = None):
    qs = GenerationJob.objects.for_company(company).filter(membership=membership)
    qs = qs.filter(kind=kind) if kind else qs.exclude(kind=GenerationJob.Kind.PREVIEW)
    return qs.select_related("look_version").order_by("-queued_at", "-pk").first()


def candidates_visible(*, company: Company, job) -> QuerySet:
    return Candidate.objects.for_company(company).filter(job=job, visible=True)


def candidate_get(*, company: Company, pk: int):
    return Candidate.objects.for_company(company).select_related("job").filter(pk=pk).first()


def look_versions(*, company: Company):
    return (LookVersion.objects.for_company(company).select_related("look", "look__team")
            .order_by("look__team__name", "-version"))


def look_version_get(*, company: Company, pk: int):
    return LookVersion.objects.for_company(company).select_related("look", "look__team").filter(
        pk=pk).first()


def review_rows(*, company: Company, team_id: int | None):
    """One row per person ready for review or approved: their pick, or else their best photo."""
    members = Membership.objects.for_company(company).filter(
        status__in=[Membership.Status.REVIEW, Membership.Status.APPROVED]
    ).select_related("user", "team").order_by("user__full_name", "user__email")
    if team_id:
        members = members.filter(team_id=team_id)
    members = list(members)
    ids = [m.pk for m in members]
    # Look previews are samples of a draft look made on someone's selfie: never a headshot.
    visible = Candidate.objects.for_company(company).filter(
        membership_id__in=ids, visible=True).exclude(
        job__kind=GenerationJob.Kind.PREVIEW).select_related("job").order_by(
        "-is_favourite", "-job__queued_at", "-likeness", "seed")
    first: dict[int, Candidate] = {}
    count: dict[int, int] = {}
    for candidate in visible:
        first.setdefault(candidate.membership_id, candidate)
        count[candidate.membership_id] = count.get(candidate.membership_id, 0) + 1
    headshots = {h.membership_id: h for h in Headshot.objects.for_company(company).filter(
        membership_id__in=ids).select_related("candidate")}
    return [{"member": m, "pick": first.get(m.pk), "choices": count.get(m.pk, 0),
             "headshot": headshots.get(m.pk)} for m in members]


def review_history(*, company: Company, limit: int = 50):
    return ReviewDecision.objects.for_company(company).select_related(
        "membership__user", "actor")[:limit]


# What the uniformity report compares, in order: (conformance key, label, unit format).
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
# Which conformance flag marks each metric as outside the look's tolerance.
_FLAG_FOR = {"backdrop_delta_e": "backdrop", "face_height": "face_size",
             "face_centre_x": "centre", "eye_line": "eye_line", "roll_degrees": "roll"}
OUTLIER_Z = 2.5  # robust z-score (median / MAD) beyond which a photo stands out of its team


def _robust_outliers(values: dict[int, float], *, noticeable: float) -> set[int]:
    """Keys whose value stands out from the others (median absolute deviation)."""
    if len(values) < 3:
        return set()
    median = statistics.median(values.values())
    mad = statistics.median(abs(v - median) for v in values.values())
    scale = max(1.4826 * mad, noticeable)
    return {key for key, v in values.items() if abs(v - median) / scale > OUTLIER_Z}


def uniformity_report(*, company: Company, team_id: int | None = None) -> list[dict]:
    """Per team: each person's photo (approved headshot, else their pick, else their best),
    each metric's spread, and the photos that stand out or break the look's tolerances."""
    rows = review_rows(company=company, team_id=team_id)
    teams: dict[int | None, dict] = {}
    for row in rows:
        photo = row["headshot"].candidate if row["headshot"] else row["pick"]
        if photo is None:
            continue
        team = row["member"].team
        entry = teams.setdefault(team.pk if team else None, {"team": team, "people": []})
        entry["people"].append({"member": row["member"], "photo": photo,
                                "approved": row["headshot"] is not None})
    report = []
    for entry in sorted(teams.values(), key=lambda e: (e["team"] is None,
                                                       e["team"].name if e["team"] else "")):
        people = entry["people"]
        metrics = []
        for key, label, fmt in UNIFORMITY_METRICS:
            values = {p["photo"].pk: float(p["photo"].conformance[key]) for p in people
                      if isinstance(p["photo"].conformance.get(key), (int, float))}
            flagged = {p["photo"].pk for p in people
                       if _FLAG_FOR[key] in p["photo"].conformance.get("flags", [])}
            outliers = _robust_outliers(values, noticeable=_NOTICEABLE[key]) | flagged
            spread = (max(values.values()) - min(values.values())) if values else None
            metrics.append({
                "key": key, "label": label, "count": len(values),
                "spread": fmt.format(spread) if spread is not None else "—",
                "stdev": fmt.format(statistics.pstdev(values.values())) if values else "—",
                "outliers": outliers,
            })
        for person in people:
            pk = person["photo"].pk
            person["cells"] = [
                {"label": label, "value": (fmt.format(person["photo"].conformance[key])
                           if isinstance(person["photo"].conformance.get(key), (int, float))
                           else "—"),
                 "outlier": pk in metric["outliers"]}
                for (key, label, fmt), metric in zip(UNIFORMITY_METRICS, metrics, strict=True)
            ]
            person["outlier"] = any(cell["outlier"] for cell in person["cells"])
        report.append({"team": entry["team"], "people": people, "metrics": metrics,
                       "outliers": sum(1 for p in people if p["outlier"])})
    return report


def batch_candidates(*, company: Company, team_id: int | None) -> dict:
    """Who can be in a consistent batch (enough usable selfies, consent), and who cannot, why."""
    needed = MIN_SELFIES["consistent_batch"]
    people = Membership.objects.for_company(company).filter(
        status__in=[Membership.Status.CONSENTED, Membership.Status.UPLOADED]
    ).select_related("user", "team").annotate(
        usable=Count("selfies", filter=Q(selfies__status="accepted"))
    ).order_by("user__full_name", "user__email")
    if team_id:
        people = people.filter(team_id=team_id)
    ready, not_ready = [], []
    for person in people:
        if not consent_is_granted(company=company, user=person.user):
            not_ready.append((person, "has not given consent"))
        elif person.usable < needed:
            not_ready.append((person, f"{person.usable} of {needed} usable selfies"))
        else:
            ready.append(person)
    return {"ready": ready, "not_ready": not_ready, "needed": needed}


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
