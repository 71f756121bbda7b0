"""Ordering headshots for a team at once: everyone ``batch_eligibility`` includes."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import NotAllowed, ServiceError
from teams.models import Company, Membership

from ..eligibility import batch_eligibility, outdated_plan
from ..models import GenerationJob
from .jobs import job_create


@dataclass
class TeamOrder:
    started: list[Membership] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def team_order_start(*, company: Company, actor: Membership, team_id: int | None,
                     kind: str = GenerationJob.Kind.CONSISTENT_BATCH,
                     everyone: bool = False) -> TeamOrder:
    """Start one job per person the batches page listed as included (the same selector),
    each in its own transaction: one person's refusal (e.g. credits run out) leaves the
    others started and is reported by name."""
    if not actor.is_admin:
        raise NotAllowed("Only admins order headshots for a team.")
    eligibility = batch_eligibility(company=company, team_id=team_id, kind=kind,
                                    everyone=everyone)
    order = TeamOrder()
    for person in eligibility.included:
        try:
            job_create(company=company, membership=person, requested_by=actor.user, kind=kind)
        except ServiceError as error:
            order.problems.append(f"{person.user.get_full_name() or person.user.email}: {error}")
        else:
            order.started.append(person)
    return order


def outdated_regenerate(*, company: Company, actor: Membership) -> TeamOrder:
    """New photos, in the approved look, for everyone whose approved headshot was made
    under an older version of it and who can be regenerated now (``outdated_plan``: the
    page showed the same list and cost), by the kind of job that made it. Their approved
    headshot stays theirs until a new one is approved."""
    if not actor.is_admin:
        raise NotAllowed("Only admins order headshots for a team.")
    order = TeamOrder()
    for row in outdated_plan(company=company).ready:
        person = row.member
        try:
            job_create(company=company, membership=person, requested_by=actor.user,
                       kind=row.kind)
        except ServiceError as error:
            order.problems.append(f"{person.user.get_full_name()}: {error}")
        else:
            order.started.append(person)
    return order
