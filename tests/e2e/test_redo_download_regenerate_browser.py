"""The rest of issue 15's journeys in a real browser, every page scanned by axe:
an employee consents, uploads, sees the progress, picks, redoes once, is approved and
downloads her headshot; then the admin approves a new look version (previewed on the bundled
sample portrait) and regenerates the headshots made in the older one."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from PIL import Image

from generation.demo import demo_seed
from generation.models import GenerationJob, LookVersion
from teams.models import Membership

from ..faces import face_bytes
from ..factories import CandidateFactory, GenerationJobFactory, HeadshotFactory
from ..helpers import consent_for, selfie_for
from .journeys import employee_joins_and_uploads, new_page, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def _pick_and_get_approved(page, admin, live_server, slug: str, *, which: int) -> None:
    page.get_by_role("button", name="Pick as favourite").nth(which).click()
    assert page.get_by_role("button", name="My favourite").is_visible()
    admin.goto(f"{live_server.url}/c/{slug}/admin/review/")
    card = admin.locator("figure.selfie", has_text="Ivy Invited")
    assert card.get_by_text("their pick").is_visible()
    card.get_by_role("button", name="Approve").click()
    admin.locator("figure.selfie", has_text="Ivy Invited").get_by_text("Approved").wait_for()


def test_employee_sees_progress_redoes_once_is_approved_and_downloads(
        live_server, browser, phone, screenshot, settings, tmp_path):
    settings.REPLICATE_API_TOKEN = ""  # the embedded default: offline backend
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    demo = demo_seed()
    slug = demo.company.slug
    page = phone

    # Ivy consents and uploads a selfie.
    employee_joins_and_uploads(
        page, url=live_server.url + urlsplit(demo.employee_invite_urls["ivy@acme.example"]).path,
        full_name="Ivy Invited", photo=tmp_path / "ivy.jpg")

    # She starts her headshots and sees where they are (the stage and the count).
    page.goto(f"{live_server.url}/c/{slug}/headshots/")
    with page.expect_navigation(timeout=90_000):
        page.get_by_role("button", name="Make my headshots").click(no_wait_after=True)
    status = page.get_by_role("status").filter(has_text="photos made")
    status.wait_for()
    assert page.locator("[data-stage]").first.inner_text() == "Ready"
    assert "2 of 2 photos made" in status.inner_text()
    first_photos = {page.locator("figure.selfie img").nth(i).get_attribute("src")
                    for i in range(2)}
    screenshot(page, "1-progress-and-photos")

    # Not happy: she redoes once, with a comment; new photos replace the first ones.
    page.get_by_label("What should change? (optional)").fill("a little brighter")
    with page.expect_navigation(timeout=90_000):
        page.get_by_role("button", name="Make new photos (2 left)").click(no_wait_after=True)
    page.get_by_role("button", name="Make new photos (1 left)").wait_for()
    redone = {page.locator("figure.selfie img").nth(i).get_attribute("src") for i in range(2)}
    assert redone and not redone & first_photos
    screenshot(page, "2-after-redo")

    # The admin approves her pick from the redo.
    admin = new_page(browser, **DESKTOP)
    sign_in(admin, url=live_server.url, email="admin@acme.example", lands_on="**/admin/")
    _pick_and_get_approved(page, admin, live_server, slug, which=0)

    # Ivy downloads it: square, PNG, 512 px.
    page.reload()
    assert page.get_by_alt_text("Your approved headshot").is_visible()
    page.get_by_label("Size").select_option("512")
    page.get_by_label("Shape").select_option("square")
    page.get_by_label("Format").select_option("png")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    with open(download.value.path(), "rb") as handle:
        photo = Image.open(io.BytesIO(handle.read()))
        assert photo.format == "PNG" and photo.size == (512, 512)
    screenshot(page, "3-approved-and-downloaded")
    admin.context.close()



def test_admin_approves_a_new_look_version_and_regenerates(live_server, browser, screenshot,
                                                           settings):
    settings.REPLICATE_API_TOKEN = ""
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    demo = demo_seed()
    company, slug = demo.company, demo.company.slug
    v1 = LookVersion.objects.for_company(company).get(status=LookVersion.Status.APPROVED)
    # Erin's headshot was approved in version 1 (made here without a browser: the journey
    # above does it in one).
    erin = Membership.objects.for_company(company).get(user__email="erin@acme.example")
    Membership.objects.for_company(company).filter(pk=erin.pk).update(
        status=Membership.Status.APPROVED)
    consent_for(erin)
    selfie_for(erin, data=face_bytes("obama.jpg"))
    job = GenerationJobFactory(membership=erin, company=company, look_version=v1)
    HeadshotFactory(candidate=CandidateFactory(job=job, gates_passed=True))

    admin = new_page(browser, **DESKTOP)
    sign_in(admin, url=live_server.url, email="admin@acme.example", lands_on="**/admin/")

    # Version 2, previewed on the sample portrait (no selfie of anyone's), approved.
    admin.goto(f"{live_server.url}/c/{slug}/admin/looks/")
    admin.get_by_label("Preset").select_option("friendly")
    admin.get_by_role("button", name="Save draft").click()
    admin.wait_for_url("**/admin/looks/*/")
    admin.get_by_label("Reference photo").select_option("sample")
    # The test settings run the work inside the request: the answer waits for the previews.
    with admin.expect_navigation(timeout=90_000):
        admin.get_by_role("button", name="Generate previews").click(no_wait_after=True)
    admin.get_by_alt_text("Preview 1").wait_for()
    screenshot(admin, "4-preview-on-the-sample")
    admin.get_by_role("button", name="Approve this version").click()
    admin.get_by_text("made in an older version").first.wait_for()
    admin.goto(f"{live_server.url}/c/{slug}/admin/")
    admin.get_by_role("link", name="See the cost and regenerate them").click()
    ready = admin.locator("[data-outdated-ready]")
    assert "Erin Engineer: approved in version 1, the look is now version 2" in ready.inner_text()
    screenshot(admin, "5-outdated")
    with admin.expect_navigation(timeout=90_000):
        admin.get_by_role("button", name="Confirm: regenerate").click(no_wait_after=True)
    admin.context.close()

    current = LookVersion.objects.for_company(company).get(status=LookVersion.Status.APPROVED)
    assert current.version == 2
    latest = GenerationJob.objects.for_company(company).filter(
        membership=erin).exclude(kind=GenerationJob.Kind.PREVIEW).latest("queued_at")
    assert latest.look_version_id == current.pk
    preview = GenerationJob.objects.for_company(company).get(kind=GenerationJob.Kind.PREVIEW,
                                                             look_version=current)
    assert preview.sample_portrait
