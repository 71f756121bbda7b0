"""The upload page asks for the verdicts of all the photos it waits for in one request.

Fifty people uploading ten photos each, each photo asked about on its own every few seconds,
kept the web processes busy answering status questions (bench/load.py); one question per page
answers the same. Each photo's answer is what its own status address says, and a photo the
viewer may not see is "gone", as that address's 404.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generation.models import Selfie
from generation.services.selfies import _refusal_remember

from .factories import MembershipFactory
from .helpers import db_fingerprint, selfie_for

pytestmark = pytest.mark.django_db


def _pending(membership, *, age: timedelta = timedelta(0)) -> Selfie:
    selfie = Selfie.objects.create(
        company=membership.company, membership=membership, image_key="", thumb_key="",
        width=0, height=0, size_bytes=0, source_format="", status=Selfie.Status.PENDING,
        content_sha256=f"pending-{uuid.uuid4().hex}", uploaded_by=membership.user)
    if age:
        Selfie.objects.for_company(membership.company).filter(pk=selfie.pk).update(
            created_at=timezone.now() - age)
    return selfie


def _refused(membership, name: str = "IMG_0007.JPG") -> int:
    """A photo refused after its upload: its row gone, the reason remembered."""
    pending = _pending(membership)
    _refusal_remember(pending, "Two people are in this photo.", name=name)
    Selfie.objects.for_company(membership.company).filter(pk=pending.pk).delete()
    return pending.pk


def _ask(client, company, ids):
    url = reverse("generation:selfie_statuses", kwargs={"company_slug": company.slug})
    return client.get(url, {"ids": ",".join(str(i) for i in ids)},
                      HTTP_ACCEPT="application/json")


def test_one_answer_says_where_each_photo_stands(tenant_a):
    member = tenant_a.member
    waiting = _pending(member)
    checked = selfie_for(member)
    refused = _refused(member)
    colleague = _pending(MembershipFactory(company=tenant_a.company))
    client = tenant_a.client_for(member)

    response = _ask(client, tenant_a.company, [waiting.pk, checked.pk, refused, colleague.pk,
                                               999_999])

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    photos = response.json()["photos"]
    assert photos[str(waiting.pk)]["status"] == "pending"
    assert photos[str(checked.pk)]["status"] == checked.status
    assert photos[str(checked.pk)]["selfie"]["id"] == checked.pk
    assert photos[str(refused)] == {"status": "refused",
                                    "error": "Two people are in this photo."}
    # A colleague's photo and one that never was: the same answer, nothing about either.
    assert photos[str(colleague.pk)] == photos["999999"] == {"status": "gone",
                                                            "error": "No such photo."}
    # The sender's page lists the refused photo by its file name after a reload.
    page = client.get(reverse("generation:selfies", kwargs={"company_slug": "alpha"}))
    assert "IMG_0007.JPG" in page.content.decode()


def test_each_answer_is_what_the_photos_own_address_says(tenant_a):
    member = tenant_a.member
    ids = [_pending(member).pk, selfie_for(member).pk, _refused(member),
           _pending(MembershipFactory(company=tenant_a.company)).pk]
    client = tenant_a.client_for(member)
    together = _ask(client, tenant_a.company, ids).json()["photos"]
    for pk in ids:
        alone = client.get(reverse("generation:selfie_status",
                                   kwargs={"company_slug": "alpha", "pk": pk}))
        expected = alone.json() if alone.status_code == 200 else {
            "status": "gone", "error": "No such photo."}
        assert together[str(pk)] == expected


def test_an_admin_sees_a_members_photos_but_not_the_file_name(tenant_a):
    member = tenant_a.member
    waiting, refused = _pending(member), _refused(member)
    admin = tenant_a.client_for(tenant_a.admin)
    photos = _ask(admin, tenant_a.company, [waiting.pk, refused]).json()["photos"]
    assert photos[str(waiting.pk)]["status"] == "pending"
    assert photos[str(refused)]["status"] == "refused"
    page = admin.get(reverse("generation:member_selfies",
                             kwargs={"company_slug": "alpha", "pk": member.pk}))
    assert "IMG_0007.JPG" not in page.content.decode()


def test_a_photo_whose_check_was_lost_is_reported_and_its_place_freed(tenant_a, settings):
    lost = _pending(tenant_a.member,
                    age=timedelta(seconds=settings.SELFIE_INTAKE_TIMEOUT_SECONDS + 5))
    photos = _ask(tenant_a.client_for(tenant_a.member), tenant_a.company,
                  [lost.pk]).json()["photos"]
    assert photos[str(lost.pk)]["status"] == "refused"
    assert "interrupted" in photos[str(lost.pk)]["error"]
    assert not Selfie.objects.for_company(tenant_a.company).filter(pk=lost.pk).exists()


def test_the_questions_cost_the_same_for_one_photo_or_twenty(tenant_a):
    member = tenant_a.member
    client = tenant_a.client_for(member)
    few = [_pending(member).pk, _refused(member)]
    many = few + [_pending(member).pk for _ in range(9)] + [_refused(member) for _ in range(9)]
    _ask(client, tenant_a.company, few)  # the session and the refusals are written once
    _ask(client, tenant_a.company, many)
    counts = []
    for ids in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert _ask(client, tenant_a.company, ids).status_code == 200
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_no_photos_asked_about_is_an_empty_answer(tenant_a):
    response = _ask(tenant_a.client_for(tenant_a.member), tenant_a.company, [])
    assert response.status_code == 200
    assert response.json() == {"photos": {}}


@pytest.mark.parametrize("ids", ["abc", "1,x", "-1", "1.5", "1;2", "\uff11", "1" * 19,
                                 ",".join(str(n) for n in range(1, 52))])
def test_a_garbled_question_is_a_400_that_changes_nothing(tenant_a, ids):
    lost = _pending(tenant_a.member, age=timedelta(days=1))  # would be freed by a real ask
    client = tenant_a.client_for(tenant_a.member)
    url = reverse("generation:selfie_statuses", kwargs={"company_slug": "alpha"})
    before = db_fingerprint()
    response = client.get(url, {"ids": f"{lost.pk},{ids}"})
    assert response.status_code == 400
    assert "ids" in response.json()["error"]
    assert db_fingerprint() == before


def test_another_companys_photo_is_gone_under_ones_own_address(tenant_a, tenant_b):
    theirs = _pending(tenant_b.member)
    photos = _ask(tenant_a.client_for(tenant_a.owner), tenant_a.company,
                  [theirs.pk]).json()["photos"]
    assert photos == {str(theirs.pk): {"status": "gone", "error": "No such photo."}}
    assert Selfie.objects.for_company(tenant_b.company).filter(pk=theirs.pk).exists()
