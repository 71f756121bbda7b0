"""Exports: a ZIP of a team's approved headshots named by the admin's pattern, in the size
and format chosen; a CSV of people with links to their headshot; admins only."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.test import Client
from PIL import Image

from delivery.exports.services import file_name
from teams.models import Membership, Team

from .factories import MembershipFactory, UserFactory
from .helpers import db_fingerprint
from .test_api import approve

EXPORT = "/c/alpha/admin/export/"
CSV = "/c/alpha/admin/export/people.csv"


@pytest.fixture
def approved_team(tenant_a):
    design = Team.objects.create(company=tenant_a.company, name="Design")
    people = []
    for email, name, team in (("ana@alpha.example", "Ana Silva", tenant_a.team),
                              ("ben@alpha.example", "Ben Okafor", tenant_a.team),
                              ("cy@alpha.example", "Cy Twombly", design)):
        person = MembershipFactory(company=tenant_a.company, team=team,
                                   user=UserFactory(email=email, full_name=name))
        approve(person)
        people.append(person)
    return people


def test_a_teams_zip_is_named_by_the_pattern_in_the_size_chosen(tenant_a, approved_team):
    response = tenant_a.client_for(tenant_a.admin).post(EXPORT, {
        "team": tenant_a.team.pk, "size": "256", "shape": "square", "format": "png",
        "pattern": "{team}/{last}_{first}"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="Engineering-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["Engineering/Okafor_Ben.png",
                                          "Engineering/Silva_Ana.png"]
    image = Image.open(io.BytesIO(archive.read("Engineering/Silva_Ana.png")))
    assert image.format == "PNG" and image.size == (256, 256)


def test_names_cannot_escape_the_archive_and_clashes_are_numbered(tenant_a):
    person = MembershipFactory(company=tenant_a.company, user=UserFactory(
        email="x@alpha.example", full_name="../.. /etc/passwd"))
    for pattern in ("{first}/{last}", "{full_name}", "/{email}/../{id}"):
        name = file_name(pattern, person, "jpg")
        segments = name.split("/")
        assert not name.startswith("/") and not {".", "..", ""} & set(segments), name
    for email in ("sam1@alpha.example", "sam2@alpha.example"):
        approve(MembershipFactory(company=tenant_a.company, user=UserFactory(
            email=email, full_name="Sam Lee")))
    response = tenant_a.client_for(tenant_a.admin).post(EXPORT, {
        "size": "256", "shape": "look", "format": "jpeg", "pattern": "{first}-{last}"})
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert sorted(names) == ["Sam-Lee-2.jpg", "Sam-Lee.jpg"]


def test_a_bad_pattern_or_no_headshots_is_a_clear_error(tenant_a, approved_team):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post(EXPORT, {"size": "512", "shape": "look", "format": "jpeg",
                                    "pattern": "{nickname}"})
    assert response.status_code == 400 and "Unknown name part: nickname" in response.content.decode()
    empty = Team.objects.create(company=tenant_a.company, name="Empty")
    response = client.post(EXPORT, {"team": empty.pk, "size": "512", "shape": "look",
                                    "format": "jpeg", "pattern": "{email}"})
    assert response.status_code == 400 and "No approved headshots" in response.content.decode()


def test_the_people_csv_links_to_each_headshot(tenant_a, approved_team):
    response = tenant_a.client_for(tenant_a.owner).get(CSV)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_email = {r["email"]: r for r in rows}
    assert by_email["owner@alpha.example"]["headshot_url"] == ""
    link = by_email["cy@alpha.example"]["headshot_square_512_url"]
    image = Image.open(io.BytesIO(Client().get("/" + link.split("/", 3)[3]).content))
    assert image.size == (512, 512)
    team_only = tenant_a.client_for(tenant_a.owner).get(f"{CSV}?team={tenant_a.team.pk}")
    emails = {r["email"] for r in csv.DictReader(io.StringIO(
        b"".join(team_only.streaming_content).decode()))}
    assert "cy@alpha.example" not in emails and "ana@alpha.example" in emails


def test_spreadsheet_formulas_in_names_are_defused(tenant_a):
    MembershipFactory(company=tenant_a.company, user=UserFactory(
        email="evil@alpha.example", full_name="=HYPERLINK(\"http://x\")"))
    body = b"".join(tenant_a.client_for(tenant_a.owner).get(CSV).streaming_content).decode()
    assert "'=HYPERLINK" in body


@pytest.mark.parametrize("url, method", [(EXPORT, "get"), (EXPORT, "post"), (CSV, "get")])
def test_members_get_403_and_outsiders_404_and_nothing_changes(
        tenant_a, tenant_b, approved_team, url, method):
    member, outsider = tenant_a.client_for(tenant_a.member), tenant_b.client_for(tenant_b.owner)
    data = {"size": "512", "shape": "look", "format": "jpeg", "pattern": "{email}"}
    before = db_fingerprint()
    assert getattr(member, method)(url, data).status_code == 403
    assert getattr(outsider, method)(url, data).status_code == 404
    assert db_fingerprint() == before
    assert Membership.objects.for_company(tenant_a.company).count() == 6
