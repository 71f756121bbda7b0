"""One row read, or an update written, in PostgreSQL's binary format: what Django's own
read or update gives, inside the same walls."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from core.pg_binary import first_row_binary, update_binary
from core.rls import company_scope
from core.tenancy import UnscopedQueryError
from generation.models import ColleagueIndex

from .factories import ColleagueIndexFactory, CompanyFactory

pytestmark = pytest.mark.django_db


def test_bytes_numbers_and_text_come_as_django_reads_them():
    blob = os.urandom(300_000) + bytes(range(256))
    index = ColleagueIndexFactory(fingerprint="3:9:17", members=blob, centroids=b"")
    rows = ColleagueIndex.objects.for_company(index.company_id).values_list(
        "pk", "fingerprint", "members", "centroids")

    found = first_row_binary(rows)

    pk, fingerprint, members, centroids = rows.first()
    assert found == (pk, fingerprint, bytes(members), bytes(centroids))
    assert all(isinstance(v, bytes) for v in found[2:])


def test_no_row_is_none():
    ColleagueIndexFactory(members=b"x")
    other = CompanyFactory()
    assert first_row_binary(ColleagueIndex.objects.for_company(other).values_list("pk")) is None


def test_the_tenant_wall_holds_for_it_as_for_django(settings):
    """As the application's role, inside another company's scope, the row-level security
    hides the row even from a query that names its company."""
    if connection.vendor != "postgresql":
        pytest.skip("the row-level security is PostgreSQL's")
    index = ColleagueIndexFactory(members=b"x")
    other = CompanyFactory()
    settings.DB_ROW_LEVEL_SECURITY = True
    with connection.cursor() as cursor:
        cursor.execute("SET ROLE likeness_app")
    try:
        rows = ColleagueIndex.objects.unscoped().filter(company_id=index.company_id)
        with company_scope(other.pk):
            assert first_row_binary(rows.values_list("pk")) is None
        with company_scope(index.company_id):
            assert first_row_binary(rows.values_list("pk")) == (index.pk,)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_an_update_writes_bytes_as_django_would_and_says_how_many_rows():
    index = ColleagueIndexFactory(members=b"old")
    other = ColleagueIndexFactory(members=b"other's")
    blob = os.urandom(200_000)

    changed = update_binary(ColleagueIndex.objects.for_company(index.company_id),
                            members=blob, fingerprint="1:2:3")

    assert changed == 1
    index.refresh_from_db()
    other.refresh_from_db()
    assert (bytes(index.members), index.fingerprint) == (blob, "1:2:3")
    assert bytes(other.members) == b"other's"
    assert update_binary(ColleagueIndex.objects.for_company(CompanyFactory()),
                         members=b"x") == 0


def test_an_update_fails_closed_without_a_company_and_refuses_a_slice():
    index = ColleagueIndexFactory(members=b"kept")
    with pytest.raises(UnscopedQueryError):
        update_binary(ColleagueIndex.objects.filter(pk=index.pk), members=b"gone")
    with pytest.raises(TypeError):
        update_binary(ColleagueIndex.objects.for_company(index.company_id)[:1], members=b"gone")
    index.refresh_from_db()
    assert bytes(index.members) == b"kept"


def test_a_read_fails_closed_without_a_company():
    ColleagueIndexFactory(members=b"x")
    with pytest.raises(UnscopedQueryError):
        first_row_binary(ColleagueIndex.objects.values_list("pk"))
