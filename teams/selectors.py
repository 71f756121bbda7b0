"""Reads for companies, people and invitations."""

from __future__ import annotations

from django.db.models import IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from core.rls import rls_bypass

from .models import Company, Invitation, InviteLink, Membership, MemberTally, Team, User

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
    # Finding the request's company: before it is known, so past the database's wall too.
    with rls_bypass("the signed-in person's own membership names the request's company"):
        # One row at most (one membership per company): unordered, where ``first()`` would
        # sort by id, and compiling that ordering was a fifth of this look-up's time (it runs
        # on every request under /c/<company>/).
        found = list(
            Membership.objects.unscoped()
            .select_related("company", "team")
            .filter(user=user, company__slug=company_slug, joined_at__isnull=False,
                    company__closed_at__isnull=True)[:1]
        )
    membership = found[0] if found else None
    if membership is not None:
        membership.user = user  # the signed-in person, loaded already: not read again
    return membership


def company_admins(*, company: Company | int) -> QuerySet[Membership]:
    """The company's owner and admins, with their users: read from an index of their own
    (``member_admins``), a few entries however many people the company has."""
    return Membership.objects.for_company(company).filter(
        role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]).select_related("user")


def member_list(
    *, company: Company, team_id: int | None = None, status: str | None = None,
    query: str = "", no_team: bool = False,
) -> QuerySet[Membership]:
    pending = Invitation.objects.for_company(company).filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    ).order_by("-created_at")
    # Ordered by the membership's own sort key (the person's name, kept by the database):
    # pages are read from the index (company, [team | status,] sort_name, id).
    qs = (
        Membership.objects.for_company(company)
        .select_related("user", "team")
        .prefetch_related(Prefetch("invitations", queryset=pending, to_attr="open_invitations"))
        .order_by("sort_name", "pk")
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


def member_rows(
    *, company: Company, team_id: int | None = None, status: str | None = None,
    query: str = "", no_team: bool = False,
) -> QuerySet:
    """The dashboard's people as plain rows (the columns shown, and the open invitation's id
    and sending time), ordered like ``member_list``: one query for a page, no model objects."""
    pending = (Invitation.objects.unscoped()  # the outer query names the company
               .filter(membership_id=OuterRef("pk"), accepted_at__isnull=True,
                       revoked_at__isnull=True).order_by("-created_at", "-pk"))
    qs = member_list(company=company, team_id=team_id, status=status, query=query,
                     no_team=no_team).prefetch_related(None)
    return qs.values(
        "id", "status", "role", "job_title", "sort_name", "user__full_name", "user__email",
        "team__name",
        invitation_id=Subquery(pending.values("pk")[:1]),
        invitation_sent_at=Subquery(pending.values("sent_at")[:1]),
    )


def member_status_counts(
    *, company: Company, team_id: int | None = None, no_team: bool = False
) -> dict[str, int]:
    """People per status (in one team, or without one): read from the tallies the database
    keeps (MemberTally), a few rows whatever the size of the company."""
    tallies = MemberTally.objects.for_company(company)
    if no_team:
        tallies = tallies.filter(team_key=0)
    elif team_id:
        tallies = tallies.filter(team_key=team_id)
    counts = dict(tallies.values_list("status").annotate(total=Sum("n")).order_by())
    return {value: counts.get(value) or 0 for value in Status.values}


def member_get(*, company: Company, pk: int) -> Membership | None:
    return (
        Membership.objects.for_company(company).select_related("user", "team").filter(pk=pk).first()
    )


def joined_member_get(*, company: Company, pk: int) -> Membership | None:
    """The company's member ``pk`` once they have joined (an invited person has no pages)."""
    member = member_get(company=company, pk=pk)
    return member if member is not None and member.has_joined else None


def team_list(*, company: Company) -> QuerySet[Team]:
    """The company's teams by name, each with ``member_count`` from the tallies."""
    size = (MemberTally.objects.unscoped()  # the outer query names the company
            .filter(company_id=OuterRef("company_id"), team_key=OuterRef("pk"))
            .order_by().values("team_key").annotate(total=Sum("n")).values("total"))
    return Team.objects.for_company(company).annotate(
        member_count=Coalesce(Subquery(size, output_field=IntegerField()), 0)
    ).order_by("name")


def team_choices(*, company: Company) -> list[tuple[int, str, int]]:
    """(id, name, people) of each team by name, for menus (``{% team_options %}``)."""
    return list(team_list(company=company).values_list("pk", "name", "member_count"))


def team_menu(*, company: Company) -> list[tuple[int, str, None]]:
    """``team_choices`` rows for a menu that shows no sizes (``{% team_options %}`` without
    ``counts``): the teams by name and nothing else, so a company of 50 teams costs what one
    of 3 does (the sizes were a tally subquery a team: ~0.7 ms more at 50 on PostgreSQL)."""
    return [(pk, name, None) for pk, name in
            Team.objects.for_company(company).order_by("name").values_list("pk", "name")]


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
