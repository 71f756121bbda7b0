"""What the offline backend cannot honour is said, never silently ignored."""

from __future__ import annotations

from generation.backends.offline import offline_limits
from generation.finish_light import light_for
from generation.looks import PRESETS
from generation.models import GenerationJob, LookVersion
from teams.models import Membership

from .helpers import candidate_for


def test_every_presets_lighting_is_understood_by_the_retouch():
    for preset in PRESETS.values():
        light = light_for(preset.lighting)
        assert light.unknown == (), preset.key
        assert light.understood


def test_lighting_the_retouch_does_not_know_is_listed_not_dropped():
    light = light_for("soft key light, neon rim light, dramatic split lighting")
    assert light.understood == ("soft key light",)
    assert light.unknown == ("neon rim light", "dramatic split lighting")
    (limit,) = offline_limits(wardrobe="", lighting="neon rim light", backdrop_description="grey")
    assert limit.field == "lighting" and "“neon rim light” is not available" in limit.text


def test_wardrobe_and_a_textured_backdrop_are_not_available_offline():
    preset = PRESETS["creative"]
    limits = offline_limits(wardrobe=preset.wardrobe, lighting=preset.lighting,
                            backdrop_description=preset.backdrop_description)
    assert [lim.field for lim in limits] == ["wardrobe", "backdrop"]
    assert "smart casual layers in earthy tones" in limits[0].text
    assert "textured backdrop is not available" in limits[1].text
    assert offline_limits(wardrobe="", lighting="flat, even light",
                          backdrop_description="plain mid-grey seamless backdrop") == []


def test_the_look_form_and_version_page_say_what_offline_cannot_do(tenant_a):
    admin = tenant_a.client_for(tenant_a.admin)
    form = admin.get("/c/alpha/admin/looks/").content.decode()
    assert "Not available with the offline backend: it keeps the clothes of the selfie." in form
    admin.post("/c/alpha/admin/looks/", {"preset": "creative", "output_size": "768"})
    version = LookVersion.objects.for_company(tenant_a.company).get()
    page = admin.get(f"/c/alpha/admin/looks/{version.pk}/").content.decode()
    assert "data-offline-limits" in page
    assert 'data-field="wardrobe"' in page and 'data-field="backdrop"' in page
    assert "smart casual layers in earthy tones" in page


def test_the_employee_sees_what_the_offline_retouch_did_not_apply(tenant_a):
    candidate_for(tenant_a.member)
    Membership.objects.for_company(tenant_a.company).filter(pk=tenant_a.member.pk).update(
        status=Membership.Status.REVIEW)
    page = tenant_a.client_for(tenant_a.member).get("/c/alpha/headshots/").content.decode()
    assert "Studio retouch, offline" in page
    assert 'data-field="wardrobe"' in page
    review = tenant_a.client_for(tenant_a.admin).get("/c/alpha/admin/review/").content.decode()
    assert "data-offline-note" in review
    # A photo made by a generative backend carries no such note.
    GenerationJob.objects.for_company(tenant_a.company).update(
        backend=GenerationJob.Backend.REPLICATE)
    page = tenant_a.client_for(tenant_a.member).get("/c/alpha/headshots/").content.decode()
    assert "data-offline-limits" not in page
