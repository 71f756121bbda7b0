"""Exports of approved headshots: a ZIP of a team's photos named by the admin's pattern, and
a CSV of people with links to their headshot."""

from __future__ import annotations

import csv
import re
import tempfile
import zipfile
from collections.abc import Iterator

from django.conf import settings
from django.db.models import QuerySet

from core.csv_safe import Echo, csv_cell
from core.errors import ServiceError
from generation.models import Candidate, Headshot
from generation.selectors import candidate_may_leave, headshots_that_may_leave
from teams.models import Company, Membership, Team

from ..variants import Variant, variant_render, variant_url

TOKENS = ("first", "last", "full_name", "email", "team", "id")
DEFAULT_PATTERN = "{first}-{last}"
_TOKEN = re.compile(r"\{([a-z_]+)\}")
_UNSAFE = re.compile(r'[\x00-\x1f\\:*?"<>|]+')


def pattern_check(pattern: str) -> str:
    pattern = pattern.strip()
    unknown = set(_TOKEN.findall(pattern)) - set(TOKENS)
    if not pattern or not _TOKEN.search(pattern):
        raise ServiceError("The pattern needs at least one of: "
                           + ", ".join(f"{{{t}}}" for t in TOKENS) + ".")
    if unknown:
        raise ServiceError(f"Unknown name part: {', '.join(sorted(unknown))}. Use "
                           + ", ".join(f"{{{t}}}" for t in TOKENS) + ".")
    if len(pattern) > 120:
        raise ServiceError("The pattern is too long.")
    return pattern


def _parts(person: Membership) -> dict[str, str]:
    full = person.user.full_name.strip() or person.user.email.split("@")[0]
    first, _, last = full.partition(" ")
    return {"first": first, "last": last.strip() or first, "full_name": full,
            "email": person.user.email, "team": person.team.name if person.team else "no-team",
            "id": str(person.pk)}


def file_name(pattern: str, person: Membership, extension: str) -> str:
    """The pattern filled in; "/" makes folders, nothing can climb out of the archive."""
    values = _parts(person)
    raw = _TOKEN.sub(lambda m: values[m.group(1)].replace("/", "-"), pattern)
    segments = [_UNSAFE.sub("-", s).strip(" .") for s in raw.split("/")]
    segments = [s for s in segments if s and s not in (".", "..")] or [values["id"]]
    return "/".join(segments) + f".{extension}"


def _headshots(company: Company, team: Team | None) -> QuerySet[Headshot]:
    headshots = (headshots_that_may_leave(company=company)
                 .select_related("membership__user", "membership__team")
                 .order_by("membership__user__full_name", "pk"))
    return headshots.filter(membership__team=team) if team is not None else headshots


def headshots_zip(*, company: Company, team: Team | None, variant: Variant,
                  pattern: str) -> tempfile.SpooledTemporaryFile:
    """The archive in a temporary file (spills to disk past 64 MB), rewound."""
    pattern = pattern_check(pattern)
    headshots = list(_headshots(company, team))
    if not headshots:
        raise ServiceError("No approved headshots to export yet.")
    candidates = Candidate.objects.for_company(company).in_bulk(
        [h.candidate_id for h in headshots])
    archive_file = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
    used: set[str] = set()
    # Images are already compressed: storing them is as small and much faster.
    with zipfile.ZipFile(archive_file, "w", zipfile.ZIP_STORED) as archive:
        for headshot in headshots:
            name = file_name(pattern, headshot.membership, variant.extension)
            stem, dot, ext = name.rpartition(".")
            n = 2
            while name.lower() in used:
                name = f"{stem}-{n}{dot}{ext}"
                n += 1
            used.add(name.lower())
            archive.writestr(name, variant_render(candidates[headshot.candidate_id], variant))
    archive_file.seek(0)
    return archive_file


def people_csv_rows(*, company: Company, team: Team | None) -> Iterator[str]:
    """People with their approved headshot's link (signed, valid EXPORT_URL_TTL_SECONDS)."""
    writer = csv.writer(Echo())
    yield writer.writerow(["email", "full_name", "team", "job_title", "status",
                           "headshot_approved_at", "headshot_url", "headshot_square_512_url"])
    people = (Membership.objects.for_company(company)
              .select_related("user", "team", "headshot__candidate")
              .order_by("user__full_name", "pk"))
    if team is not None:
        people = people.filter(team=team)
    ttl = settings.EXPORT_URL_TTL_SECONDS
    for person in people.iterator(chunk_size=2000):
        headshot = getattr(person, "headshot", None)
        if headshot is not None and not candidate_may_leave(headshot.candidate):
            headshot = None
        yield writer.writerow([
            csv_cell(person.user.email), csv_cell(person.user.full_name),
            csv_cell(person.team.name if person.team else ""), csv_cell(person.job_title),
            person.status, headshot.approved_at.isoformat() if headshot else "",
            variant_url(headshot, Variant(), ttl=ttl) if headshot else "",
            variant_url(headshot, Variant(size=512, shape="square"), ttl=ttl) if headshot else "",
        ])


