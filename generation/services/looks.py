"""Company and team looks: versioned, previewed, approved."""

from __future__ import annotations

from dataclasses import fields

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from teams.models import Company, Membership, Team

from ..conformance import Tolerances
from ..looks import PRESETS, look_prompt
from ..models import GenerationJob, Look, LookVersion

VStatus = LookVersion.Status
HEX = "0123456789abcdefABCDEF"


def look_version_for_member(*, company: Company, membership: Membership) -> LookVersion | None:
    """The approved version that applies: the team's own look, else the company's."""
    approved = LookVersion.objects.for_company(company).filter(status=VStatus.APPROVED)
    if membership.team_id:
        # One query, not the team's then the company's: the team's version sorts first.
        return approved.filter(Q(look__team_id=membership.team_id) | Q(look__team__isnull=True)
                               ).order_by(F("look__team_id").asc(nulls_last=True),
                                          "-version").first()
    return approved.filter(look__team__isnull=True).first()


def look_get_or_create(*, company: Company, team: Team | None) -> Look:
    if team is not None and team.company_id != company.pk:
        raise NotAllowed("That team belongs to another company.")
    look = Look.objects.for_company(company).filter(team=team).first()
    if look is None:
        name = f"{team.name} look" if team else f"{company.name} look"
        look = Look.objects.create(company=company, team=team, name=name)
    return look


@transaction.atomic
def look_version_create(
    *,
    company: Company,
    actor: Membership,
    team: Team | None,
    preset: str = "",
    backdrop_color: str = "",
    backdrop_description: str = "",
    wardrobe: str = "",
    lighting: str = "",
    framing: str = "",
    aspect_ratio: str = "",
    output_size: int = 1024,
    tolerances: dict[str, float] | None = None,
) -> LookVersion:
    """Every edit is a new draft version; the approved one stays in force until a new approval.

    ``tolerances`` overrides the conformance defaults (``generation.conformance.Tolerances``
    field names), e.g. ``{"backdrop_delta_e_max": 3.0}``.
    """
    if not actor.is_admin:
        raise NotAllowed("Only the company's admins can change looks.")
    if preset and preset not in PRESETS:
        raise ServiceError("Unknown preset.")
    base = PRESETS.get(preset)
    values = {
        "backdrop_color": backdrop_color or (base.backdrop_color if base else ""),
        "backdrop_description": backdrop_description or (base.backdrop_description if base else ""),
        "wardrobe": wardrobe or (base.wardrobe if base else ""),
        "lighting": lighting or (base.lighting if base else ""),
        "framing": framing or (base.framing if base else ""),
        "aspect_ratio": aspect_ratio or (base.aspect_ratio if base else ""),
    }
    colour = values["backdrop_color"]
    if not (len(colour) == 7 and colour[0] == "#" and all(c in HEX for c in colour[1:])):
        raise ServiceError("The backdrop colour must look like #5B6770.")
    if values["framing"] not in LookVersion.Framing.values:
        raise ServiceError("Choose a framing.")
    if values["aspect_ratio"] not in LookVersion.Aspect.values:
        raise ServiceError("Choose an aspect ratio.")
    if not values["wardrobe"].strip() or not values["lighting"].strip():
        raise ServiceError("Describe the wardrobe and the lighting.")
    if not 512 <= output_size <= 2048:
        raise ServiceError("The output size must be between 512 and 2048 pixels.")
    if not values["backdrop_description"].strip():
        values["backdrop_description"] = f"plain studio backdrop in {colour}"
    tolerances = _tolerances_clean(tolerances or {})
    look = look_get_or_create(company=company, team=team)
    latest = LookVersion.objects.for_company(company).filter(look=look).order_by("-version").first()
    return LookVersion.objects.create(
        company=company, look=look, version=(latest.version + 1) if latest else 1,
        preset=preset, backdrop_color=colour.upper(), output_size=output_size,
        prompt=look_prompt(backdrop_description=values["backdrop_description"],
                           backdrop_color=colour.upper(), wardrobe=values["wardrobe"],
                           lighting=values["lighting"], framing=values["framing"]),
        created_by=actor.user, tolerances=tolerances,
        **{k: v for k, v in values.items() if k != "backdrop_color"},
    )


def _tolerances_clean(tolerances: dict[str, float]) -> dict[str, float]:
    known = {f.name for f in fields(Tolerances)}
    clean: dict[str, float] = {}
    for name, value in tolerances.items():
        if value is None:
            continue
        if name not in known:
            raise ServiceError(f"Unknown tolerance {name!r}.")
        if not isinstance(value, int | float) or not 0 <= float(value) <= 90:
            raise ServiceError("Tolerances must be numbers between 0 and 90.")
        clean[name] = float(value)
    return clean


@transaction.atomic
def look_version_approve(*, company: Company, actor: Membership, version: LookVersion,
                         require_preview: bool = True) -> LookVersion:
    """Approve a version after its previews were seen; the previous approval is superseded."""
    if not actor.is_admin:
        raise NotAllowed("Only the company's admins can approve looks.")
    if version.company_id != company.pk:
        raise NotAllowed("That look belongs to another company.")
    if version.status == VStatus.APPROVED:
        raise ServiceError("This version is already approved.")
    if version.status == VStatus.SUPERSEDED:
        raise ServiceError("This version was replaced; approve the newest one.")
    if require_preview and not GenerationJob.objects.for_company(company).filter(
        look_version=version, kind=GenerationJob.Kind.PREVIEW, status=GenerationJob.Status.READY
    ).exists():
        raise ServiceError("Generate a preview of this version and look at it before approving.")
    versions = LookVersion.objects.for_company(company).filter(look=version.look_id)
    versions.filter(status=VStatus.APPROVED).update(status=VStatus.SUPERSEDED)
    versions.filter(status=VStatus.DRAFT, version__lt=version.version).update(
        status=VStatus.SUPERSEDED)
    versions.filter(pk=version.pk).update(status=VStatus.APPROVED, approved_by=actor.user,
                                          approved_at=timezone.now())
    version.refresh_from_db()
    return version
