from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from teams.models import Company, Membership, Team, User

from .factories import CompanyFactory, MembershipFactory, TeamFactory, UserFactory

# Storage backend fixtures (local files, and S3 on moto) for any test that needs both.
from .storage_backends import backend, local_backend, moto_endpoint, s3_backend  # noqa: F401, E402

Role = Membership.Role


def _flush_past_the_append_only_triggers() -> None:
    """Transactional tests end with a TRUNCATE of every table, which the audit logs' triggers
    refuse (privacy, billing migrations). The test database is flushed the way an operator
    would do maintenance: as a superuser with triggers off for that one transaction."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    sql_flush = DatabaseOperations.sql_flush
    if getattr(sql_flush, "_past_triggers", False):
        return

    def flush(self, style, tables, **kwargs):
        statements = sql_flush(self, style, tables, **kwargs)
        return ["SET LOCAL session_replication_role = replica", *statements] if statements else []

    flush._past_triggers = True
    DatabaseOperations.sql_flush = flush


_flush_past_the_append_only_triggers()


@dataclass
class Tenant:
    """A company with one person in each role, a team, and clients signed in as each."""

    company: Company
    team: Team
    owner: Membership
    admin: Membership
    member: Membership

    def client_for(self, membership: Membership) -> Client:
        client = Client()
        client.force_login(membership.user)
        return client


def _tenant(slug: str, domain: str) -> Tenant:
    company = CompanyFactory(name=slug.title(), slug=slug)
    team = TeamFactory(company=company, name="Engineering")

    def person(role: str, local: str) -> Membership:
        user = UserFactory(email=f"{local}@{domain}")
        return MembershipFactory(company=company, user=user, role=role, team=team)

    return Tenant(company=company, team=team, owner=person(Role.OWNER, "owner"),
                  admin=person(Role.ADMIN, "admin"), member=person(Role.MEMBER, "member"))


@pytest.fixture
def tenant_a(db) -> Tenant:
    return _tenant("alpha", "alpha.example")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return _tenant("bravo", "bravo.example")


@pytest.fixture(autouse=True)
def _clean_cache():
    # Tests share one Redis database; throttling and similar state must not leak.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db) -> User:
    return UserFactory()
