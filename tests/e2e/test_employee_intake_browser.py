"""In a real browser on a phone-sized screen: invitation → consent → upload with progress → QA."""

from __future__ import annotations

import pillow_heif
import pytest

from generation.models import Selfie
from privacy.models import ConsentRecord
from teams.services.invitations import invitation_create, invitation_token_renew

from ..faces import face_bytes, face_image
from .images import image_loaded

pytestmark = pytest.mark.django_db(transaction=True)


def _heic(tmp_path) -> str:
    image = face_image("obama2.jpg")
    image.thumbnail((640, 640))
    heif = pillow_heif.from_pillow(image)
    path = tmp_path / "IMG_0042.HEIC"
    heif.save(str(path), quality=80)
    return str(path)


def test_employee_goes_from_invitation_to_qa_verdicts(live_server, phone, screenshot, tmp_path,
                                                       tenant_a):
    invitation = invitation_create(company=tenant_a.company, email="nina@alpha.example",
                                   full_name="Nina New", created_by=tenant_a.owner.user,
                                   send=False)
    token = invitation_token_renew(company=tenant_a.company, invitation=invitation, sent=True)
    page = phone

    page.goto(f"{live_server.url}/invite/{token}/")
    screenshot(page, "1-invitation")
    page.get_by_role("button", name="Accept the invitation").click()
    page.get_by_role("link", name="Read the consent notice").click()
    # The processors in use are named (Replicate is not configured here: not named).
    assert page.get_by_text("Likeness, which runs this platform").first.is_visible()
    screenshot(page, "2-consent")
    agree = page.get_by_label("I have read the notice")
    assert not agree.is_checked()
    page.get_by_label("Type your full name to sign").fill("Nina New")
    agree.check()
    page.get_by_role("button", name="I agree").click()
    page.wait_for_url("**/selfies/")
    assert ConsentRecord.objects.for_company(tenant_a.company).filter(
        subject_email="nina@alpha.example").count() == 1

    jpeg = tmp_path / "selfie.jpg"
    jpeg.write_bytes(face_bytes("obama.jpg"))
    group = tmp_path / "team-lunch.jpg"
    group.write_bytes(face_bytes("two_people.jpg"))
    page.get_by_label("Choose photos").set_input_files([str(jpeg), _heic(tmp_path), str(group)])
    with page.expect_navigation():  # the page reloads once every file has its verdict
        page.get_by_role("button", name="Upload").click()
        page.locator(".upload progress").first.wait_for()
        screenshot(page, "3-uploading")
    screenshot(page, "4-verdicts")

    cards = page.locator("figure.selfie")
    assert cards.count() == 3
    assert page.locator(".badge-accepted").count() == 2
    assert page.get_by_text("More than one person").is_visible()
    for index in range(3):
        image = cards.nth(index).locator("img")
        assert image_loaded(image)
    formats = sorted(Selfie.objects.for_company(tenant_a.company).values_list(
        "source_format", flat=True))
    assert formats == ["HEIF", "JPEG", "JPEG"]


def test_photos_checked_off_the_request_path_get_their_verdicts_in_one_question(
        live_server, phone, screenshot, tmp_path, tenant_a, settings):
    """As production runs: each upload answers at once with a photo being checked, and the
    page asks for all the awaited verdicts together, not once per photo."""
    settings.SELFIE_INTAKE_PROCESSES = 1
    invitation = invitation_create(company=tenant_a.company, email="omar@alpha.example",
                                   full_name="Omar Other", created_by=tenant_a.owner.user,
                                   send=False)
    token = invitation_token_renew(company=tenant_a.company, invitation=invitation, sent=True)
    page = phone
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url)
            if "/status" in request.url else None)
    page.goto(f"{live_server.url}/invite/{token}/")
    page.get_by_role("button", name="Accept the invitation").click()
    page.get_by_role("link", name="Read the consent notice").click()
    page.get_by_label("Type your full name to sign").fill("Omar Other")
    page.get_by_label("I have read the notice").check()
    page.get_by_role("button", name="I agree").click()
    page.wait_for_url("**/selfies/")

    files = []
    for name in ("obama.jpg", "obama2.jpg", "two_people.jpg"):
        path = tmp_path / name
        path.write_bytes(face_bytes(name))
        files.append(str(path))
    page.get_by_label("Choose photos").set_input_files(files)
    with page.expect_navigation(timeout=120_000):  # reloaded once every verdict is known
        page.get_by_role("button", name="Upload").click()
        page.get_by_text("Uploaded, being checked").first.wait_for()
        screenshot(page, "1-being-checked")
    screenshot(page, "2-verdicts")

    assert page.locator("figure.selfie").count() == 3
    assert page.locator(".badge-accepted").count() == 2
    assert page.get_by_text("More than one person").is_visible()
    assert asked and all("/selfies/status/?ids=" in url for url in asked)
