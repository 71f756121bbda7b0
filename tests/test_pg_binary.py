"""One row read in PostgreSQL's binary format gives what Django's own read gives."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from core.pg_binary import first_row_binary
from core.rls import company_scope
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
