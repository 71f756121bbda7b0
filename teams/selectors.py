"""Reads for companies, people and invitations."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import Company, Invitation, InviteLink, Membership, Team, User

Status = Membership.Status


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    """The companies a person has joined. Crosses the wall on purpose: it is their own list."""
    return (
        Membership.objects.unscoped()
        .filter(user=user, joined_at__isnull=False, company__closed_at__isnull=True)
        .select_related("company")
        .order_by("company__name")
    )


def membership_for_request(*, user: User, company_slug: str) -> Membership | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.unscoped()
        .select_related("company", "team")
        .filter(user=user, company__slug=company_slug, joined_at__isnull=False,
                company__closed_at__isnull=True)
        .first()
    )


def member_list(
    *, company: Company, team_id: int | None = None, status: str | None = None,
    query: str = "", no_team: bool = False,
) -> QuerySet[Membership]:
    pending = Invitation.objects.for_company(company).filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    ).order_by("-created_at")
    qs = (
        Membership.objects.for_company(company)
        .select_related("user", "team")
        .prefetch_related(Prefetch("invitations", queryset=pending, to_attr="open_invitations"))
        .order_by("user__full_name", "user__email")
    )
    if no_team:
        qs = qs.filter(team__isnull=True)
    elif team_id:
        qs = qs.filter(team_id=team_id)
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(Q(user__email__icontains=query) | Q(user__full_name__icontains=query))
    return qs


def member_status_counts(
    *, company: Company, team_id: int | None = None, no_team: bool = False
) -> dict[str, int]:
    qs = Membership.objects.for_company(company)
    if no_team:
        qs = qs.filter(team__isnull=True)
    elif team_id:
        qs = qs.filter(team_id=team_id)
    counts = Counter(dict(qs.values_list("status").annotate(n=Count("id")).order_by()))
    return {value: counts.get(value, 0) for value in Status.values}


def member_get(*, company: Company, pk: int) -> Membership | None:
    return (
        Membership.objects.for_company(company).select_related("user", "team").filter(pk=pk).first()
    )


def team_list(*, company: Company) -> QuerySet[Team]:
    return Team.objects.for_company(company).annotate(
        member_count=Count("memberships")
    ).order_by("name")


def team_get(*, company: Company, pk: int) -> Team | None:
    return Team.objects.for_company(company).filter(pk=pk).first()


def invite_link_list(*, company: Company) -> QuerySet[InviteLink]:
    return InviteLink.objects.for_company(company).select_related("team", "created_by")


def invite_link_get(*, company: Company, pk: int) -> InviteLink | None:
    return InviteLink.objects.for_company(company).filter(pk=pk).first()


def invitation_get(*, company: Company, pk: int) -> Invitation | None:
    return Invitation.objects.for_company(company).filter(pk=pk).first()


def invitations_unsent_count(*, company: Company) -> int:
    return Invitation.objects.for_company(company).filter(
        sent_at__isnull=True, accepted_at__isnull=True, revoked_at__isnull=True
    ).count()
