"""A selfie that ends at the chin: the upload advises a looser photo for the person's look,
and the offline retouch takes the person's looser photos first (it can only crop what a
photo has, and a close head shot from a tight photo is hidden by the gates)."""

from __future__ import annotations

import pytest
from PIL import Image

from generation.backends.adapters import OfflineBackend
from generation.finish_framing import framings_too_tight
from generation.gates import codes
from generation.intake.faces import faces_detect
from generation.looks import look_spec
from generation.models import Selfie

from .faces import face_image, jpeg
from .factories import GenerationJobFactory
from .helpers import approved_look, selfie_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _cut_below_chin(image: Image.Image, face_heights: float) -> Image.Image:
    """``image`` cut ``face_heights`` face-box heights below the face (a press-photo crop)."""
    face = faces_detect(image)[0]
    bottom = round(face.bottom + face_heights * face.height)
    return image.crop((0, 0, image.width, min(image.height, bottom)))


def _framings_too_tight(image: Image.Image) -> list[str]:
    return framings_too_tight(faces_detect(image)[0], source=(image.height, image.width))


def test_a_photo_ending_at_the_chin_is_too_tight_for_every_framing_and_a_loose_one_for_none():
    portrait = face_image("obama.jpg")  # shows the shoulders and chest
    assert _framings_too_tight(portrait) == []
    assert _framings_too_tight(_cut_below_chin(portrait, 0.3)) == ["head_and_shoulders",
                                                                  "chest_up"]
    # Down to the collarbones: enough for head and shoulders, not for a chest-up look.
    assert _framings_too_tight(_cut_below_chin(portrait, 0.8)) == ["chest_up"]


def test_a_tight_selfie_is_accepted_with_advice_and_a_loose_one_without(tenant_a):
    tight = selfie_for(tenant_a.member, data=jpeg(_cut_below_chin(face_image("obama.jpg"), 0.3)))
    assert tight.status == Selfie.Status.ACCEPTED
    assert tight.qa_warnings == [codes.TIGHT_CROP_ADVICE]
    page = tenant_a.client_for(tenant_a.member).get("/c/alpha/selfies/").content.decode()
    assert "also shows your shoulders" in page
    loose = selfie_for(tenant_a.member, data=jpeg(face_image("obama.jpg")))
    assert loose.status == Selfie.Status.ACCEPTED
    assert codes.TIGHT_CROP_ADVICE not in loose.qa_warnings


def test_the_advice_follows_the_framing_of_the_look_that_applies(tenant_a):
    collarbones = jpeg(_cut_below_chin(face_image("obama.jpg"), 0.8))
    # No look yet, or a head-and-shoulders one: this photo has enough.
    first = selfie_for(tenant_a.member, data=collarbones)
    assert codes.TIGHT_CROP_ADVICE not in first.qa_warnings
    approved_look(tenant_a.company, preset="executive")  # chest-up
    second = selfie_for(tenant_a.admin, data=collarbones)
    assert second.qa_warnings == [codes.TIGHT_CROP_ADVICE]


def test_the_offline_retouch_takes_the_looser_photos_first(tenant_a):
    member = tenant_a.member
    tight = selfie_for(member, data=jpeg(_cut_below_chin(face_image("obama.jpg"), 0.3)))
    loose = selfie_for(member, data=jpeg(face_image("obama2.jpg")))
    version = approved_look(tenant_a.company)
    job = GenerationJobFactory(company=tenant_a.company, membership=member,
                               look_version=version, seeds=[1, 2])
    outputs = list(OfflineBackend().submit(job, selfies=[tight, loose], look=look_spec(version),
                                           seeds=[1, 2], keepalive=lambda: None))
    assert [o.source_id for o in outputs] == [f"offline:selfie-{loose.pk}:seed-1",
                                              f"offline:selfie-{loose.pk}:seed-2"]


def test_with_only_tight_photos_the_offline_retouch_still_tries_them(tenant_a):
    member = tenant_a.member
    tight = selfie_for(member, data=jpeg(_cut_below_chin(face_image("obama.jpg"), 0.3)))
    version = approved_look(tenant_a.company)
    job = GenerationJobFactory(company=tenant_a.company, membership=member,
                               look_version=version, seeds=[3])
    outputs = list(OfflineBackend().submit(job, selfies=[tight], look=look_spec(version),
                                           seeds=[3], keepalive=lambda: None))
    assert [o.source_id for o in outputs] == [f"offline:selfie-{tight.pk}:seed-3"]
