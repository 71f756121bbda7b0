"""Look previews stay within consent: made on the admin's own photo or on the bundled
public-domain sample portrait, never on an employee's selfie, and so never in an employee's
copy of their data."""

from __future__ import annotations

import hashlib
import json
import zipfile
from io import BytesIO

import pytest
from django.urls import reverse

from core.errors import NotAllowed, ServiceError
from generation.models import Candidate, GenerationJob, JobSelfie, Selfie
from generation.services.jobs import job_create
from generation.services.looks import look_version_create
from generation.services.review import look_preview_create
from privacy.dsr import export_zip

from .faces import face_bytes
from .helpers import db_fingerprint, selfie_for


@pytest.fixture
def draft(tenant_a):
    return look_version_create(company=tenant_a.company, actor=tenant_a.admin, team=None,
                               preset="corporate")


def _url(tenant, version) -> str:
    return reverse("generation:look_version",
                   kwargs={"company_slug": tenant.company.slug, "pk": version.pk})


@pytest.mark.django_db
def test_the_preview_page_offers_only_the_admins_own_photos(tenant_a, draft):
    employees = selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    own = selfie_for(tenant_a.admin, data=face_bytes("obama2.jpg"))
    page = tenant_a.client_for(tenant_a.admin).get(_url(tenant_a, draft)).content.decode()
    options = page.split('name="selfie"')[1].split("</select>")[0]
    assert f'value="{own.pk}"' in options
    assert f'value="{employees.pk}"' not in options


@pytest.mark.django_db
def test_a_preview_on_an_employees_selfie_is_refused_and_changes_nothing(tenant_a, draft):
    employees = selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    admin = tenant_a.client_for(tenant_a.admin)
    before = db_fingerprint()
    response = admin.post(
        _url(tenant_a, draft), {"action": "preview", "selfie": employees.pk}, follow=True)
    assert "Choose one of your own photos" in response.content.decode()
    assert db_fingerprint() == before
    with pytest.raises(NotAllowed, match="your own photo"):
        look_preview_create(company=tenant_a.company, actor=tenant_a.admin, version=draft,
                            selfie=employees)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_preview_is_the_admins_and_never_in_an_employees_export(tenant_a, draft, settings):
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    settings.REPLICATE_API_TOKEN = ""
    selfie_for(tenant_a.member, data=face_bytes("biden.jpg"))
    own = selfie_for(tenant_a.admin, data=face_bytes("obama.jpg"))
    tenant_a.client_for(tenant_a.admin).post(_url(tenant_a, draft),
                                             {"action": "preview", "selfie": own.pk})
    preview = GenerationJob.objects.for_company(tenant_a.company).get(
        kind=GenerationJob.Kind.PREVIEW)
    assert preview.membership_id == tenant_a.admin.pk
    assert preview.status == GenerationJob.Status.READY
    with zipfile.ZipFile(BytesIO(export_zip(company=tenant_a.company,
                                            membership=tenant_a.member))) as archive:
        data = json.loads(archive.read("data.json"))
        assert all(job["kind"] != "preview" for job in data.get("jobs", []))
        assert not any(name.startswith(f"generated/job-{preview.pk}-")
                       for name in archive.namelist())


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["member", "outsider"])
def test_only_the_companys_admins_make_previews(tenant_a, tenant_b, draft, who):
    own = selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    client = (tenant_a.client_for(tenant_a.member) if who == "member"
              else tenant_b.client_for(tenant_b.owner))
    before = db_fingerprint()
    response = client.post(_url(tenant_a, draft), {"action": "preview", "selfie": own.pk})
    assert response.status_code == (403 if who == "member" else 404)
    assert db_fingerprint() == before


# --- The bundled public-domain sample portrait ------------------------------------------


def test_the_sample_portrait_is_the_documented_public_domain_file():
    from generation.sample_portrait import ASSET

    source = (ASSET.parent / "SOURCE.md").read_text()
    assert "public domain" in source
    assert hashlib.sha256(ASSET.read_bytes()).hexdigest() in source


@pytest.mark.django_db
def test_the_preview_page_offers_the_sample_portrait(tenant_a, draft):
    page = tenant_a.client_for(tenant_a.admin).get(_url(tenant_a, draft)).content.decode()
    options = page.split('name="selfie"')[1].split("</select>")[0]
    assert 'value="sample"' in options and "public-domain" in options


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_admin_without_selfies_gets_previews_made_from_the_sample(tenant_a, draft,
                                                                     settings):
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    settings.REPLICATE_API_TOKEN = ""
    selfie_for(tenant_a.member, data=face_bytes("biden.jpg"))
    assert not Selfie.objects.for_company(tenant_a.company).filter(
        membership=tenant_a.admin).exists()
    response = tenant_a.client_for(tenant_a.admin).post(
        _url(tenant_a, draft), {"action": "preview", "selfie": "sample"}, follow=True)
    assert response.status_code == 200
    preview = GenerationJob.objects.for_company(tenant_a.company).get(
        kind=GenerationJob.Kind.PREVIEW)
    assert preview.sample_portrait and preview.membership_id == tenant_a.admin.pk
    assert preview.status == GenerationJob.Status.READY, preview.failure_reason
    assert not JobSelfie.objects.for_company(tenant_a.company).filter(job=preview).exists()
    # Identity is checked against the sample itself; every other gate still runs.
    made = Candidate.objects.for_company(tenant_a.company).filter(job=preview)
    assert made.exists() and all(c.scored_at and c.likeness_distance is not None for c in made)
    shown = made.filter(gates_passed=True)
    assert shown.exists()
    assert f"/candidates/{shown.first().pk}/thumb/" in response.content.decode()
    # Nobody's personal data: in no copy of anyone's data.
    for membership in (tenant_a.admin, tenant_a.member):
        with zipfile.ZipFile(BytesIO(export_zip(company=tenant_a.company,
                                                membership=membership))) as archive:
            data = json.loads(archive.read("data.json"))
            assert all(job["id"] != preview.pk for job in data.get("jobs", []))
            assert not any(name.startswith(f"generated/job-{preview.pk}-")
                           for name in archive.namelist())


@pytest.mark.django_db
def test_the_sample_portrait_is_only_for_previews(tenant_a, draft):
    with pytest.raises(ServiceError, match="sample portrait"):
        job_create(company=tenant_a.company, membership=tenant_a.member,
                   requested_by=tenant_a.member.user, kind=GenerationJob.Kind.SINGLE_SELFIE,
                   sample_portrait=True)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["member", "outsider"])
def test_only_the_companys_admins_make_sample_previews(tenant_a, tenant_b, draft, who):
    client = (tenant_a.client_for(tenant_a.member) if who == "member"
              else tenant_b.client_for(tenant_b.owner))
    before = db_fingerprint()
    response = client.post(_url(tenant_a, draft), {"action": "preview", "selfie": "sample"})
    assert response.status_code == (403 if who == "member" else 404)
    assert db_fingerprint() == before
