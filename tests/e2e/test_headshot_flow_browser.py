"""The README demo in a real browser: invitation → consent → selfie → offline headshots →
favourite → the admin approves → the employee's headshot, in the company's look."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from generation.colour import delta_e_2000, hex_to_rgb, srgb_to_lab
from generation.demo import demo_seed
from generation.models import Headshot, LookVersion
from teams.models import Membership

from .images import image_loaded
from .journeys import employee_joins_and_uploads, new_page, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def test_demo_from_invitation_to_an_approved_headshot(live_server, browser, phone, screenshot,
                                                      settings, tmp_path):
    settings.REPLICATE_API_TOKEN = ""  # the embedded default: offline backend
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 3}
    demo = demo_seed()
    company = demo.company
    invite_path = urlsplit(demo.employee_invite_urls["ivy@acme.example"]).path
    page = phone

    # Ivy accepts her invitation, signs the consent notice and uploads one good selfie.
    employee_joins_and_uploads(page, url=live_server.url + invite_path,
                               full_name="Ivy Invited", photo=tmp_path / "ivy.jpg")

    # Her headshots are made offline, and the page says so.
    page.goto(f"{live_server.url}/c/{company.slug}/headshots/")
    assert page.get_by_text("in your company's look").is_visible()
    page.get_by_role("button", name="Make my headshots").click()
    page.get_by_text("Studio retouch, offline").first.wait_for()
    candidates = page.locator("figure.selfie img")
    assert candidates.count() == 3
    for index in range(3):
        assert image_loaded(candidates.nth(index))
    screenshot(page, "1-candidates")
    page.get_by_role("button", name="Pick as favourite").nth(1).click()
    assert page.get_by_role("button", name="My favourite").is_visible()

    # The admin signs in with a password and approves her pick on the review screen.
    admin = new_page(browser, **DESKTOP)
    # An admin lands on the dashboard.
    sign_in(admin, url=live_server.url, email="admin@acme.example", lands_on="**/admin/")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Review").click()
    card = admin.locator("figure.selfie", has_text="Ivy Invited")
    assert card.get_by_text("their pick").is_visible()
    screenshot(admin, "2-review")
    card.get_by_role("button", name="Approve").click()
    assert admin.locator("figure.selfie", has_text="Ivy Invited").get_by_text(
        "Approved").is_visible()
    assert admin.get_by_text("Approved").count() >= 1
    admin.context.close()

    # Ivy sees her approved headshot.
    page.reload()
    approved = page.get_by_alt_text("Your approved headshot")
    assert approved.is_visible()
    assert image_loaded(approved)
    screenshot(page, "3-approved")

    ivy = Membership.objects.for_company(company).get(user__email="ivy@acme.example")
    assert ivy.status == Membership.Status.APPROVED
    headshot = Headshot.objects.for_company(company).select_related("candidate").get(
        membership=ivy)
    # In the company's look: its aspect ratio and backdrop colour.
    look = LookVersion.objects.for_company(company).get(status=LookVersion.Status.APPROVED)
    with default_storage.open(headshot.candidate.image_key, "rb") as handle:
        photo = Image.open(io.BytesIO(handle.read())).convert("RGB")
    width, height = (int(p) for p in look.aspect_ratio.split(":"))
    assert abs(photo.width / photo.height - width / height) < 0.01
    corner = np.asarray(photo)[:48, :48].reshape(-1, 3).astype(np.float64)
    target = srgb_to_lab(np.array([hex_to_rgb(look.backdrop_color)], dtype=np.float64))
    lab = srgb_to_lab(corner)
    assert np.median(delta_e_2000(lab, np.broadcast_to(target, lab.shape))) < 4.0
