"""The database's tenant wall (core/rls.py): row-level security on every tenant table.

The suite connects as a superuser, whom row-level security never holds; these tests become
the application's role (``manage.py db_roles``: it owns no table and cannot bypass) to meet
the wall, with ``DB_ROW_LEVEL_SECURITY`` on as in production.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from core.events import MEMBER_JOINED, event_emit, event_subscribe, event_unsubscribe
from core.rls import company_scope, rls_bypass, tables_without_wall, tenant_tables
from identity.models import AuditEvent
from teams.models import Membership, Team, User
from teams.services.companies import user_forget

from .factories import SecuritySettingsFactory, TeamFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


@pytest.fixture
def app_role(db, settings):
    """Run the rest of the test as ``likeness_app`` (reverted with the test's transaction)."""
    settings.DB_ROW_LEVEL_SECURITY = True
    with connection.cursor() as cursor:
        cursor.execute("SET ROLE likeness_app")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def _raw(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _current_user() -> str:
    return _raw("SELECT current_user")[0][0]


# --- Every tenant table has the wall -------------------------------------------------------


def test_every_tenant_table_has_the_wall(db):
    tables = tenant_tables()
    assert {"teams_membership", "generation_selfie", "billing_creditentry",
            "privacy_consentrecord", "teams_apikey", "identity_scimtoken"} <= set(tables)
    assert tables_without_wall() == []
    call_command("rls_check", stdout=__import__("io").StringIO())


def test_rls_check_names_a_tenant_table_left_without_the_wall(db):
    with connection.cursor() as cursor:  # DDL, rolled back with the test
        cursor.execute("DROP POLICY tenant_wall ON teams_team")
        cursor.execute("ALTER TABLE generation_look NO FORCE ROW LEVEL SECURITY")
    assert tables_without_wall() == ["generation_look", "teams_team"]
    with pytest.raises(CommandError, match="2 tenant table"):
        call_command("rls_check", stdout=__import__("io").StringIO())


# --- The application's role meets the wall -------------------------------------------------


def test_with_no_company_named_the_app_role_sees_nothing(tenant_a, tenant_b, app_role):
    assert _current_user() == "likeness_app"
    assert _raw("SELECT count(*) FROM teams_membership") == [(0,)]
    assert Membership.objects.unscoped().count() == 0
    # A forgotten filter reached through a table outside the wall finds nothing either.
    assert not User.objects.filter(memberships__company=tenant_b.company).exists()
    with rls_bypass("the test's own check that the rows are there"):
        assert Membership.objects.unscoped().count() == 6


def test_a_forgotten_filter_sees_only_the_named_company(tenant_a, tenant_b, app_role):
    with company_scope(tenant_a.company.pk):
        everyone = list(Membership.objects.unscoped())  # the application filter, forgotten
        assert {m.company_id for m in everyone} == {tenant_a.company.pk}
        assert len(everyone) == 3
        assert _raw("SELECT DISTINCT company_id FROM teams_membership") == [(tenant_a.company.pk,)]
        assert not Team.objects.unscoped().filter(company=tenant_b.company).exists()
        assert User.objects.filter(memberships__company=tenant_b.company).count() == 0
        # Nor can it change company B's rows it cannot see.
        assert Team.objects.unscoped().filter(pk=tenant_b.team.pk).update(name="Taken") == 0
    with rls_bypass("the test's own check"):
        assert Team.objects.unscoped().get(pk=tenant_b.team.pk).name == "Engineering"


def test_writing_a_row_of_another_company_fails(tenant_a, tenant_b, app_role):
    with company_scope(tenant_a.company.pk):
        TeamFactory(company=tenant_a.company, name="Design")  # its own company: fine
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            TeamFactory(company=tenant_b.company, name="Planted")
        # Moving one of A's rows to company B is refused too (WITH CHECK).
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Team.objects.for_company(tenant_a.company).filter(pk=tenant_a.team.pk).update(
                company=tenant_b.company)
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        TeamFactory(company=tenant_a.company, name="Nobody named")  # no company named
    with rls_bypass("the test's own check"):
        assert not Team.objects.unscoped().filter(name__in=["Planted", "Nobody named"]).exists()


def test_the_scope_ends_with_its_block_in_and_out_of_transactions(tenant_a, app_role):
    with company_scope(tenant_a.company.pk):
        assert Membership.objects.unscoped().count() == 3
    assert Membership.objects.unscoped().count() == 0
    with transaction.atomic():
        with company_scope(tenant_a.company.pk):
            assert Membership.objects.unscoped().count() == 3
        assert Membership.objects.unscoped().count() == 0
    with rls_bypass("outer"), company_scope(tenant_a.company.pk):
        pass
    assert _raw("SELECT current_setting('app.company_id', true),"
                " current_setting('app.rls_bypass', true)") == [("", "")]


def test_off_the_scopes_change_nothing(tenant_a, app_role, settings):
    settings.DB_ROW_LEVEL_SECURITY = False
    with company_scope(tenant_a.company.pk):  # not on: nothing is named, the wall stays shut
        assert _raw("SELECT count(*) FROM teams_membership") == [(0,)]


def test_the_owner_is_held_too_but_a_superuser_is_not(tenant_a, tenant_b, db):
    """FORCE: a table's owner that is no superuser meets the wall like anyone."""
    assert _raw("SELECT count(*) FROM teams_membership") == [(6,)]  # the suite's superuser
    table_owner = _raw("SELECT tableowner FROM pg_tables WHERE tablename = 'teams_membership'")
    assert table_owner and _raw("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")


# --- In a request ---------------------------------------------------------------------------


def test_raw_sql_in_a_request_of_company_a_finds_no_row_of_company_b(
        tenant_a, tenant_b, app_role, settings):
    settings.ROOT_URLCONF = "tests.rls_urls"
    client = tenant_a.client_for(tenant_a.member)
    answer = client.get(f"/probe/c/{tenant_a.company.slug}/raw/").json()
    assert answer == {"companies": [tenant_a.company.pk], "teams": 1}
    # After the request the connection names no company any more.
    assert _raw("SELECT count(*) FROM teams_membership") == [(0,)]
    # Someone of company B asking for company A's page: the same 404 as ever.
    assert tenant_b.client_for(tenant_b.member).get(
        f"/probe/c/{tenant_a.company.slug}/raw/").status_code == 404


def test_company_pages_work_as_the_app_role(tenant_a, tenant_b, app_role):
    response = tenant_a.client_for(tenant_a.owner).get(f"/c/{tenant_a.company.slug}/admin/")
    assert response.status_code == 200
    assert b"member@alpha.example" in response.content
    assert b"bravo.example" not in response.content


def test_an_admin_action_and_its_audit_line_are_written_as_the_app_role(tenant_a, app_role):
    """The audit log is written by identity's middleware after the view: still company A's."""
    client = tenant_a.client_for(tenant_a.owner)
    response = client.post(f"/c/{tenant_a.company.slug}/admin/teams/", {"name": "Design"})
    assert response.status_code in (200, 302)
    with rls_bypass("the test's own check"):
        assert Team.objects.for_company(tenant_a.company).filter(name="Design").exists()
        assert AuditEvent.objects.for_company(tenant_a.company).filter(
            action="team.created").exists()


def test_required_two_factor_still_holds_as_the_app_role(tenant_a, app_role):
    """A company's settings read under the wall: an invisible row must not relax them."""
    with company_scope(tenant_a.company.pk):
        SecuritySettingsFactory(company=tenant_a.company, require_admin_2fa=True)
    response = tenant_a.client_for(tenant_a.admin).get(f"/c/{tenant_a.company.slug}/admin/")
    assert response.status_code == 302 and "/security" in response["Location"]


def test_a_streamed_export_is_read_as_its_company(tenant_a, tenant_b, app_role):
    response = tenant_a.client_for(tenant_a.owner).get(
        f"/c/{tenant_a.company.slug}/admin/people.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "member@alpha.example" in body and "bravo" not in body
    assert _raw("SELECT current_setting('app.company_id', true)") == [("",)]


def test_a_check_across_companies_is_not_fooled_by_the_wall(tenant_a, tenant_b, app_role):
    """Whether a person still belongs anywhere is asked past the wall: under company A's
    scope alone, their membership of B would be invisible and their account erased."""
    elsewhere = tenant_b.member.user
    with company_scope(tenant_a.company.pk):
        user_forget(user_id=elsewhere.pk)
    elsewhere.refresh_from_db()
    assert elsewhere.email == "member@bravo.example" and elsewhere.is_active


def test_after_commit_event_handlers_run_under_the_events_company(
        tenant_a, app_role, django_capture_on_commit_callbacks):
    """An emitter's company scope may be gone by the commit; the event names it again."""
    seen: list[int] = []

    def count_members(event) -> None:
        seen.append(Membership.objects.unscoped().count())

    event_subscribe(MEMBER_JOINED, count_members)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            with company_scope(tenant_a.company.pk):
                event_emit(MEMBER_JOINED, company_id=tenant_a.company.pk,
                           person=tenant_a.member.pk, team=tenant_a.team.pk)
    finally:
        event_unsubscribe(MEMBER_JOINED, count_members)
    assert seen == [3]


# --- The deployment's login role -----------------------------------------------------------


def test_db_roles_makes_the_application_login_role_from_its_url(tenant_a, monkeypatch):
    """platform/bin/migrate runs `db_roles --login-from default`: DATABASE_URL's user becomes a
    login role holding likeness_app, so the deployed application meets the wall."""
    import io
    import os

    from django.db import connections

    name = f"likeness_login_{os.environ.get('PYTEST_XDIST_WORKER', 'gw')}"
    monkeypatch.setitem(connections.settings, "applogin", {
        **connections.settings["default"], "USER": name, "PASSWORD": "pw-'quoted\"-1"})
    out = io.StringIO()
    call_command("db_roles", login_from="applogin", stdout=out)  # rolled back with the test
    assert f"Login role {name} holds" in out.getvalue()
    assert _raw(f"SELECT rolcanlogin, rolsuper, rolbypassrls, pg_has_role('{name}', "
                f"'likeness_app', 'MEMBER') FROM pg_roles WHERE rolname = '{name}'") \
        == [(True, False, False, True)]
    call_command("db_roles", login_from="applogin", stdout=io.StringIO())  # again: no error
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{name}"')
    try:  # tenant_a's people are there, and the login role, naming no company, sees none
        assert _raw("SELECT count(*) FROM teams_membership") == [(0,)]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_db_roles_warns_when_the_application_connects_as_the_owner(db):
    import io

    err = io.StringIO()
    call_command("db_roles", login_from="default", stdout=io.StringIO(), stderr=err)
    assert "row-level security will not hold the application" in err.getvalue()


def test_db_roles_names_an_unknown_alias_and_creates_nothing(db):
    import io

    roles = _raw("SELECT count(*) FROM pg_roles")
    with pytest.raises(CommandError, match="No database alias 'nosuch'"):
        call_command("db_roles", login_from="nosuch", stdout=io.StringIO())
    assert _raw("SELECT count(*) FROM pg_roles") == roles
