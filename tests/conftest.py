from __future__ import annotations

import functools
import io
import os
import threading
from dataclasses import dataclass

import pytest
import redis
from django.conf import settings
from django.test import Client

from teams.models import Company, Membership, Team, User

from .faces import face_bytes
from .factories import CompanyFactory, MembershipFactory, TeamFactory, UserFactory

# The fakes of external services, and the storage backends (local files, and S3 on moto).
from .fakes.fixtures import fake_directories, fake_replicate, fake_stripe, stripe_billing  # noqa: F401, E402
from .helpers import approved_look, consent_for, selfie_for
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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database with the application's role (manage.py db_roles): a role that
    owns no table, which tests/test_row_level_security.py becomes to meet the wall."""
    from django.core.management import call_command
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            call_command("db_roles", stdout=io.StringIO())


@pytest.fixture(autouse=True)
def _as_the_app_role(request):
    """TEST_DB_APP_ROLE=1: every test with a database runs as the application's role, as
    production does with DB_ROW_LEVEL_SECURITY on. The test's own code (factories, checks)
    keeps an explicit bypass; each request through the test client, and each task, starts
    without it and without a company, and meets the wall."""
    if os.environ.get("TEST_DB_APP_ROLE") and request.node.get_closest_marker("superuser_attacker"):
        # Not an application path: the test plays an attacker with the owner's powers
        # (session_replication_role, TRUNCATE), which the application's role rightly lacks.
        pytest.skip("plays a database superuser attacker; likeness_app may not (TEST_DB_APP_ROLE)")
    if not os.environ.get("TEST_DB_APP_ROLE") or request.module.__name__.endswith(
            "test_row_level_security") or not (
            {"db", "transactional_db"} & set(request.fixturenames)):
        yield
        return
    from celery import signals
    from django.db import connection, transaction
    from django.test import Client

    from core import rls

    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames
                            else "db")
    walled = {rls.BYPASS_SETTING: "", rls.COMPANY_SETTING: ""}
    open_tasks: list = []

    test_thread = threading.get_ident()  # a live server's thread has its own connection

    def task_started(**kwargs):
        if threading.get_ident() != test_thread:
            return
        scope = rls._gucs(walled, "default")
        scope.__enter__()
        open_tasks.append(scope)

    def task_ended(**kwargs):
        if open_tasks and threading.get_ident() == test_thread:
            open_tasks.pop().__exit__(None, None, None)

    original_on_commit = transaction.on_commit

    def walled_on_commit(func, using=None, robust=False):
        # An after-commit callback runs in production at the commit, inside the scope that
        # registered it (a request's company, a task's); captured by a test it would run
        # later under the test's own bypass. Keep the registering scope with it.
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s, true), current_setting(%s, true)",
                           [rls.BYPASS_SETTING, rls.COMPANY_SETTING])
            bypass, company = cursor.fetchone()
        scope = {rls.BYPASS_SETTING: bypass or "", rls.COMPANY_SETTING: company or ""}

        def run():
            with rls._gucs(scope, "default"):
                return func()

        return original_on_commit(run, using=using, robust=robust)

    original = Client.request

    def walled_request(self, **kwargs):
        with rls._gucs(walled, "default"):
            return original(self, **kwargs)

    with connection.cursor() as cursor:
        cursor.execute("SET ROLE likeness_app")
        cursor.execute("SELECT set_config('app.rls_bypass', 'on', false)")
    signals.task_prerun.connect(task_started, weak=False)
    signals.task_postrun.connect(task_ended, weak=False)
    Client.request = walled_request
    transaction.on_commit = walled_on_commit
    try:
        yield
    finally:
        Client.request = original
        transaction.on_commit = original_on_commit
        signals.task_prerun.disconnect(task_started)
        signals.task_postrun.disconnect(task_ended)
        if connection.connection is not None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET ROLE")
                    cursor.execute("SELECT set_config('app.rls_bypass', '', false)")
            except Exception:
                connection.close()


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


@pytest.fixture(autouse=True)
def _results_may_be_joined():
    """Celery keeps one process-wide "inside a worker" flag: once anything in this process has
    set it (a worker component built in-process), every later ``apply().get()`` of an eager
    task raises "Never call result.get() within a task!". Tests are not inside a worker."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield


@pytest.fixture
def user(db) -> User:
    return UserFactory()


@pytest.fixture
def ready_member(tenant_a, fake_replicate, live_server, settings):  # noqa: F811
    """A member Replicate can make headshots for: an approved look, consent, a real face
    (tests/test_generation_flow.py has its own, for the offline backend)."""
    settings.SITE_URL = live_server.url
    approved_look(tenant_a.company)
    consent_for(tenant_a.member)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    return tenant_a.member
