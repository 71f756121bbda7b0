"""One person per selfie and one identity per selfie set, at upload; only a consistent set
feeds generation."""

from __future__ import annotations

import pytest

from generation.models import Selfie
from generation.services.selfies import selfies_consistent

from . import defects as D
from .faces import face_bytes, face_image, jpeg
from .helpers import selfie_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_a_different_person_among_the_selfies_is_refused_and_says_so(tenant_a):
    member = tenant_a.member
    first = selfie_for(member, data=face_bytes("obama.jpg"))
    second = selfie_for(member, data=face_bytes("obama2.jpg"))
    assert first.status == second.status == Selfie.Status.ACCEPTED
    assert len(first.face_embedding) == 128  # computed once, kept with the selfie
    other = selfie_for(member, data=face_bytes("biden.jpg"))
    assert other.status == Selfie.Status.REJECTED
    assert other.qa_metrics["codes"] == ["different_person"]
    assert other.qa_reasons == ["This photo seems to show a different person from your other "
                                "selfies. Upload photos of yourself only."]
    page = tenant_a.client_for(member).get("/c/alpha/selfies/").content.decode()
    assert "different person from your other selfies" in page
    # Another colleague uploading that same photo as their own first selfie is fine.
    assert selfie_for(tenant_a.admin, data=face_bytes("biden.jpg")).status == "accepted"


def test_a_selfie_with_a_second_face_is_refused(tenant_a):
    photobomb = D.paste_second_face(face_image("obama.jpg"), face_image("biden.jpg"),
                                    height_fraction=0.18, centre=(0.85, 0.15))
    selfie = selfie_for(tenant_a.member, data=jpeg(photobomb))
    assert selfie.status == Selfie.Status.REJECTED
    assert "second_person" in selfie.qa_metrics["codes"]
    assert selfie.face_embedding is None


def test_only_the_consistent_selfies_feed_generation(tenant_a):
    """A set stored before the check (the wrong person first): the odd one is left out."""
    member = tenant_a.member
    selfies = [selfie_for(member, data=face_bytes(n)) for n in ("obama.jpg", "obama2.jpg")]
    intruder = selfie_for(tenant_a.admin, data=face_bytes("biden.jpg"))
    Selfie.objects.for_company(tenant_a.company).filter(pk=intruder.pk).update(
        membership=member)
    ordered = list(Selfie.objects.for_company(tenant_a.company).filter(
        membership=member, status="accepted").order_by("created_at", "pk"))
    assert len(ordered) == 3
    assert [s.pk for s in selfies_consistent(ordered)] == [s.pk for s in selfies]
