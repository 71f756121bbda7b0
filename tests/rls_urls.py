"""The site's URLs plus one probe page of a company, for tests/test_row_level_security.py:
a view that forgets every filter and asks the database itself, in raw SQL."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as site
from teams.decorators import company_view


@company_view()
def raw_probe(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT company_id FROM teams_membership ORDER BY 1")
        companies = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM teams_team")
        teams = cursor.fetchone()[0]
    return JsonResponse({"companies": companies, "teams": teams})


urlpatterns = [path("probe/c/<slug:company_slug>/raw/", raw_probe), *site]
