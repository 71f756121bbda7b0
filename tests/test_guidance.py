"""Guidance and notice: the next step is always on the home page, upload verdicts survive a
reload, the person is e-mailed when their headshot is approved or rejected, and downloads
their approved headshot in the offered sizes."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from delivery.variants import SIZES
from generation.models import Headshot
from teams.models import Membership

from .factories import HeadshotFactory
from .helpers import candidate_for, consent_for, db_fingerprint, image_bytes

pytestmark = pytest.mark.django_db
Status = Membership.Status


def _url(name: str, company, **kwargs) -> str:
    return reverse(name, kwargs={"company_slug": company.slug, **kwargs})


@pytest.mark.parametrize("status, button", [
    (Status.CONSENTED, "Upload selfies"), (Status.UPLOADED, "Make my headshots"),
    (Status.GENERATING, "See how they are coming along"), (Status.REVIEW, "Pick your favourite"),
    (Status.APPROVED, "See and download your headshot")])
def test_the_home_page_always_offers_the_next_step(tenant_a, status, button):
    Membership.objects.for_company(tenant_a.company).filter(pk=tenant_a.member.pk).update(
        status=status)
    page = tenant_a.client_for(tenant_a.member).get(_url("teams:employee_home", tenant_a.company))
    link = page.content.decode().split("data-next-step>")[0].rsplit("<a ", 1)[1]
    assert button in page.content.decode().split("data-next-step>")[1].split("</a>")[0]
    target = "selfies" if status == Status.CONSENTED else "headshots"
    assert f'href="/c/alpha/{target}/"' in link


def test_upload_verdicts_are_still_there_after_a_reload(tenant_a):
    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    url = _url("generation:selfies", tenant_a.company)
    client.post(url, {"photos": [
        SimpleUploadedFile("holiday.jpg", b"this is not an image", "image/jpeg"),
        SimpleUploadedFile("blank.jpg", image_bytes(), "image/jpeg")]})
    page = client.get(url).content.decode()  # the reload
    refused = page.split("data-refusals>")[1].split("</section>")[0]
    assert "holiday.jpg" in refused
    # A photo QA turned down is stored with its verdict and shown with its reasons.
    assert "Not usable" in page and 'class="error"' in page


def _decided(tenant, capture_on_commit, **decision: str) -> list:
    """The admin decides on the member's candidate; the e-mails the member was sent."""
    candidate = candidate_for(tenant.member)
    mail.outbox.clear()
    with capture_on_commit(execute=True):
        tenant.client_for(tenant.admin).post(
            _url("generation:review_decide", tenant.company, pk=candidate.pk), decision)
    return [m for m in mail.outbox if m.to == [tenant.member.user.email]]


def test_the_person_is_emailed_when_their_headshot_is_approved(
        tenant_a, django_capture_on_commit_callbacks):
    sent = _decided(tenant_a, django_capture_on_commit_callbacks, action="approve")
    assert [m.subject for m in sent] == ["Your headshot is approved"]
    assert "/c/alpha/headshots/" in sent[0].body


def test_the_person_is_emailed_the_reason_when_their_headshot_is_rejected(
        tenant_a, django_capture_on_commit_callbacks):
    sent = _decided(tenant_a, django_capture_on_commit_callbacks, action="reject",
                    reason="Tie is crooked")
    assert [m.subject for m in sent] == ["Your admin asked for another headshot"]
    assert "Tie is crooked" in sent[0].body and "/c/alpha/headshots/" in sent[0].body


def test_a_refused_decision_emails_nobody(tenant_a, django_capture_on_commit_callbacks):
    _decided(tenant_a, django_capture_on_commit_callbacks, action="reject",
             reason="")  # no reason: refused
    assert mail.outbox == []


@pytest.fixture
def approved(tenant_a):
    candidate = candidate_for(tenant_a.member)
    return HeadshotFactory(candidate=candidate)


def test_the_person_downloads_their_headshot_in_each_offered_size(tenant_a, approved):
    client = tenant_a.client_for(tenant_a.member)
    page = client.get(_url("generation:headshots", tenant_a.company)).content.decode()
    form = page.split("data-download>")[1].split("</form>")[0]
    for size in SIZES:
        assert f'value="{size}"' in form
    url = _url("generation:headshot_download", tenant_a.company)
    response = client.get(url, {"size": "256", "shape": "square", "format": "png"})
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert Image.open(io.BytesIO(response.content)).size == (256, 256)
    largest = client.get(url, {"size": "1024", "shape": "look", "format": "jpeg"})
    assert Image.open(io.BytesIO(largest.content)).format == "JPEG"


def test_a_download_not_offered_is_a_400(tenant_a, approved):
    response = tenant_a.client_for(tenant_a.member).get(
        _url("generation:headshot_download", tenant_a.company), {"size": "13"})
    assert response.status_code == 400 and b"not offered" in response.content


@pytest.mark.parametrize("who", ["owner", "admin", "outsider"])
def test_nobody_else_downloads_someones_headshot(tenant_a, tenant_b, approved, who):
    """The download is the signed-in person's own: the owner and admins have none here,
    another company's person gets a 404, and nothing changes."""
    client = {"owner": tenant_a.client_for(tenant_a.owner),
              "admin": tenant_a.client_for(tenant_a.admin),
              "outsider": tenant_b.client_for(tenant_b.owner)}[who]
    before = db_fingerprint()
    response = client.get(_url("generation:headshot_download", tenant_a.company))
    assert response.status_code == 404
    assert db_fingerprint() == before
    assert Headshot.objects.for_company(tenant_a.company).count() == 1
