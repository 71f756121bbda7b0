"""The employee's upload page, admin uploads on their behalf, and who may see a selfie."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.models import Selfie
from teams.models import Membership

from .faces import face_bytes
from .helpers import consent_for, db_fingerprint


def _upload(client, url, *files: tuple[str, bytes]):
    return client.post(
        url, {"photos": [SimpleUploadedFile(name, data, content_type="image/jpeg")
                         for name, data in files]},
        HTTP_ACCEPT="application/json",
    )


def test_uploads_are_judged_and_shown_with_their_figures(tenant_a):
    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    response = _upload(client, "/c/alpha/selfies/", ("me.jpg", face_bytes("obama.jpg")),
                       ("group.jpg", face_bytes("two_people.jpg")))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["selfie"]["status"] for r in results] == ["accepted", "rejected"]
    assert "More than one person" in results[1]["selfie"]["reasons"][0]

    selfies = list(Selfie.objects.for_company(tenant_a.company).filter(membership=tenant_a.member))
    assert len(selfies) == 2
    assert selfies[0].qa_metrics["faces"] == 1 and selfies[0].source_format == "JPEG"
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.status == Membership.Status.UPLOADED

    page = client.get("/c/alpha/selfies/").content.decode()
    assert page.count('class="selfie card') == 2
    assert "Not usable" in page and "Sharpness" in page
    thumb = client.get(results[0]["selfie"]["thumb_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert thumb["Cache-Control"] == "private, no-store"


def test_upload_page_sends_people_without_consent_to_the_notice(tenant_a):
    response = tenant_a.client_for(tenant_a.member).get("/c/alpha/selfies/")
    assert response.status_code == 302 and response["Location"] == "/c/alpha/consent/"


def test_a_refused_file_stores_nothing_and_says_why(tenant_a):
    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    before = db_fingerprint()
    files_before = default_storage.listdir("")
    response = _upload(client, "/c/alpha/selfies/", ("notes.jpg", b"%PDF-1.7 not a photo"))
    assert response.status_code == 400
    assert "JPEG, PNG, WebP or HEIC" in response.json()["error"]
    assert db_fingerprint() == before and default_storage.listdir("") == files_before


def test_deleting_the_last_usable_selfie_moves_the_status_back(tenant_a):
    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    _upload(client, "/c/alpha/selfies/", ("me.jpg", face_bytes("obama.jpg")))
    selfie = Selfie.objects.for_company(tenant_a.company).get()
    assert client.post(f"/c/alpha/selfies/{selfie.pk}/delete/", {"confirm": "yes"}).status_code == 302
    assert not Selfie.objects.for_company(tenant_a.company).exists()
    assert not default_storage.exists(selfie.image_key)
    assert not default_storage.exists(selfie.thumb_key)
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.status == Membership.Status.CONSENTED


def test_an_admin_uploads_on_behalf_only_after_consent(tenant_a):
    admin = tenant_a.client_for(tenant_a.admin)
    url = f"/c/alpha/admin/people/{tenant_a.member.pk}/selfies/"
    assert b"has not given consent" in admin.get(url).content
    before = db_fingerprint()
    refused = _upload(admin, url, ("me.jpg", face_bytes("obama.jpg")))
    assert refused.status_code == 403
    assert db_fingerprint() == before

    consent_for(tenant_a.member)
    response = _upload(admin, url, ("me.jpg", face_bytes("obama.jpg")))
    assert response.status_code == 200 and response.json()["ok"]
    selfie = Selfie.objects.for_company(tenant_a.company).get()
    assert selfie.membership == tenant_a.member and selfie.uploaded_by == tenant_a.admin.user


def test_a_selfie_is_seen_by_its_owner_and_admins_only(tenant_a):
    consent_for(tenant_a.member)
    _upload(tenant_a.client_for(tenant_a.member), "/c/alpha/selfies/",
            ("me.jpg", face_bytes("obama.jpg")))
    selfie = Selfie.objects.for_company(tenant_a.company).get()
    url = f"/c/alpha/selfies/{selfie.pk}/image/"
    assert tenant_a.client_for(tenant_a.member).get(url).status_code == 200
    assert tenant_a.client_for(tenant_a.admin).get(url).status_code == 200
    colleague = tenant_a.client_for(tenant_a.owner)
    assert colleague.get(url).status_code == 200  # the owner is an admin too
    other = Membership.objects.create(company=tenant_a.company, user=_user("peer@alpha.example"),
                                      status=Membership.Status.JOINED,
                                      joined_at=tenant_a.member.joined_at)
    peer = tenant_a.client_for(other)
    before = db_fingerprint()
    assert peer.get(url).status_code == 404
    assert peer.post(f"/c/alpha/selfies/{selfie.pk}/delete/", {"confirm": "yes"}).status_code == 404
    assert db_fingerprint() == before


def _user(email):
    from .factories import UserFactory

    return UserFactory(email=email)
