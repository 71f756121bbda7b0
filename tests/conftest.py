from __future__ import annotations

import functools
from dataclasses import dataclass

import pytest
import redis
from django.conf import settings
from django.test import Client

from teams.models import Company, Membership, Team, User

from .factories import CompanyFactory, MembershipFactory, TeamFactory, UserFactory

# Storage backend fixtures (local files, and S3 on moto) for any test that needs both.
from .storage_backends import backend, local_backend, moto_endpoint, s3_backend  # noqa: F401, E402

Role = Membership.Role


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


@functools.cache
def _redis() -> redis.Redis:
    # One client for the whole run: its open connection needs no address lookup, which a
    # test may have patched (tests/test_outbound_webhooks.py) when the clean-up runs.
    return redis.Redis.from_url(settings.REDIS_URL)


def redis_clear_ours() -> None:
    """Delete this test process's keys (cache and broker), never another xdist worker's:
    throttling and similar state must not leak from one test into the next."""
    client = _redis()
    keys = list(client.scan_iter(match=f"*{settings.REDIS_KEY_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _clean_cache():
    redis_clear_ours()
    yield
    redis_clear_ours()


@pytest.fixture
def user(db) -> User:
    return UserFactory()
