"""Signed /h/ links: a token whose claims have the wrong types, or that names what is gone,
is a 404, never a server error."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.test import Client

from delivery.variants import _SALT, Variant, variant_url
from generation.models import Headshot

from .helpers import candidate_for


@pytest.fixture
def headshot(tenant_a) -> Headshot:
    candidate = candidate_for(tenant_a.member)
    return Headshot.objects.create(company=tenant_a.company, membership=tenant_a.member,
                                   candidate=candidate)


def _claims(headshot: Headshot, **changes) -> dict:
    return {"c": headshot.company_id, "h": headshot.pk, "k": headshot.candidate_id, "s": 256,
            "sh": "square", "f": "png", "e": int(time.time()) + 300, **changes}


def _get(token: str) -> int:
    return Client(raise_request_exception=False).get(f"/h/{token}/").status_code


def test_a_genuine_link_serves_the_image(headshot):
    assert _get(signing.dumps(_claims(headshot), salt=_SALT, compress=True)) == 200
    url = variant_url(headshot, Variant(size=256), absolute=False)
    assert Client().get(url).status_code == 200


@pytest.mark.parametrize("changes", [
    {"c": "1"}, {"c": None}, {"c": [1]}, {"c": 2**64}, {"c": True}, {"h": 1.5},
    {"h": {"x": 1}}, {"k": "abc"}, {"k": -1}, {"s": "256"}, {"s": 2**80}, {"s": None},
    {"sh": 5}, {"sh": ["square"]}, {"f": None}, {"f": {"png": 1}}, {"e": "later"},
    {"e": None}, {"e": 10**400}, {"e": 1.5e308},
])
def test_claims_of_the_wrong_type_are_a_404(headshot, changes):
    token = signing.dumps(_claims(headshot, **changes), salt=_SALT, compress=True)
    assert _get(token) == 404


@pytest.mark.parametrize("claims", [[1, 2, 3], "a string", 12, None, {}])
def test_claims_that_are_no_object_are_a_404(claims):
    assert _get(signing.dumps(claims, salt=_SALT)) == 404


def test_a_link_to_a_file_erased_meanwhile_is_a_404(headshot):
    token = signing.dumps(_claims(headshot), salt=_SALT, compress=True)
    default_storage.delete(headshot.candidate.image_key)
    assert _get(token) == 404


def test_a_token_that_is_no_token_is_a_404(db):
    for token in ("x", "x" * 5000, "e30:1:2", ".eJwLy:sig:sig", "%FF"):
        assert _get(token) == 404
