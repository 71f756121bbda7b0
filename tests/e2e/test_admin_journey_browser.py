"""The HR admin's journey in a real browser on a desktop screen: sign in → configure a look
(preset, offline preview, approval) → invite by CSV and by link → follow the dashboard →
review and approve headshots → export the ZIP and the people CSV."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest

from generation.demo import demo_seed
from generation.models import Headshot, LookVersion
from generation.services.review import candidate_favourite_set
from teams.models import Invitation, Membership

from ..faces import face_bytes
from ..helpers import candidate_for, selfie_for
from .images import image_loaded
from .journeys import new_page, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "accept_downloads": True}
CSV_ROWS = ("email,name,team,job_title\n"
            "uma@acme.example,Uma Upload,Design,Designer\n"
            "vic@acme.example,Vic Varga,Engineering,Site reliability engineer\n")


def _ready_for_review(membership: Membership, *, favourite: bool, seed: int) -> None:
    """A finished offline job with one candidate; the person is waiting for review."""
    candidate = candidate_for(membership, seed=seed)
    if favourite:
        candidate_favourite_set(company=membership.company, actor=membership,
                                candidate=candidate, favourite=True)
    Membership.objects.for_company(membership.company).filter(pk=membership.pk).update(
        status=Membership.Status.REVIEW)


def _row(page, name: str):
    return page.locator("table tbody tr", has_text=name)


def _download(control, folder: Path, suffix: str) -> Path:
    """Click ``control`` and save the file it downloads (its name ends in ``suffix``) in
    ``folder``."""
    with control.page.expect_download() as download_info:
        control.click()
    download = download_info.value
    assert download.suggested_filename.endswith(suffix)
    path = folder / download.suggested_filename
    download.save_as(path)
    return path


def test_admin_configures_a_look_invites_reviews_and_exports(live_server, browser, screenshot,
                                                            settings, tmp_path):
    settings.REPLICATE_API_TOKEN = ""  # jobs run on the offline backend, in-process
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    settings.SITE_URL = live_server.url  # links shown on pages point at this server
    demo = demo_seed()
    company = demo.company
    people = {m.user.email: m for m in Membership.objects.for_company(company).select_related(
        "user", "company")}
    owner, erin, sam = (people[f"{who}@acme.example"] for who in ("owner", "erin", "sam"))
    # The admin's own selfie is the reference for the look's preview (a preview made on an
    # employee's selfie would show up among that employee's photos on the review screen).
    reference = selfie_for(owner, face_bytes("obama.jpg"))

    page = new_page(browser, **DESKTOP)
    sign_in(page, url=live_server.url, email="owner@acme.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Looks").click()
    page.wait_for_url(f"**/c/{company.slug}/admin/looks/")

    # A new look version from a preset, previewed offline on the admin's selfie, then approved.
    page.get_by_label("Preset").select_option(label="Friendly")
    screenshot(page, "1-looks")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r".*/admin/looks/\d+/$"))
    assert page.get_by_text("saved as a draft").is_visible()
    assert page.get_by_text("No previews yet.").is_visible()
    page.get_by_label("Reference photo").select_option(
        label=f"Olivia Owner · photo {reference.pk}")
    page.get_by_role("button", name="Generate previews").click()
    preview = page.get_by_alt_text("Preview 1")
    preview.wait_for()
    assert image_loaded(preview)
    assert page.get_by_text("Studio retouch, offline").first.is_visible()
    screenshot(page, "2-look-preview")
    page.get_by_role("button", name="Approve this version").click()
    page.get_by_text("Approved. New headshots use this look.").wait_for()
    approved = LookVersion.objects.for_company(company).get(status=LookVersion.Status.APPROVED)
    assert (approved.preset, approved.version, approved.aspect_ratio) == ("friendly", 2, "1:1")

    # Invite by CSV: check first (the preview), then import.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.get_by_role("link", name="Import CSV").click()
    upload = tmp_path / "new-starters.csv"
    upload.write_text(CSV_ROWS)
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Check only").click()
    page.get_by_role("heading", name="Ready: 2 people").wait_for()
    assert page.get_by_text("New teams: Design").is_visible()
    screenshot(page, "3-import-preview")
    assert not Invitation.objects.for_company(company).filter(email="uma@acme.example").exists()
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(f"**/c/{company.slug}/admin/")
    assert page.get_by_text("Imported 2 people.").is_visible()

    # Invite by a shareable link, read from the page; it opens the join page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invite").click()
    page.get_by_role("link", name="Share an invite link").click()
    page.get_by_label("Label (for you)").fill("New starters, December")
    page.get_by_label("Usage cap").fill("25")
    page.get_by_role("button", name="Create link").click()
    link = page.locator("code.secret").inner_text().strip()
    assert link.startswith(f"{live_server.url}/join/")
    assert _row(page, "New starters, December").get_by_text("0 / 25").is_visible()
    screenshot(page, "4-invite-link")
    visitor = new_page(browser, **DESKTOP)
    visitor.goto(link)
    assert visitor.get_by_role("heading", name="Join Acme Corporation on Likeness").is_visible()
    visitor.context.close()

    # Two people have headshots waiting for review: Sam picked one, Erin did not.
    _ready_for_review(sam, favourite=True, seed=11)
    _ready_for_review(erin, favourite=False, seed=12)

    # The dashboard: everyone with their status.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expected = {"Uma Upload": "Invited", "Vic Varga": "Invited", "Ivy Invited": "Invited",
                "Sam Seller": "Ready for review", "Erin Engineer": "Ready for review",
                "Adam Admin": "Joined"}
    for name, status in expected.items():
        assert _row(page, name).locator(".badge").inner_text().strip() == status, name
    assert _row(page, "Vic Varga").get_by_text("Engineering").is_visible()
    screenshot(page, "5-dashboard")

    # Review: approve both.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review").click()
    # is_visible() does not wait: the review page must have loaded before it is asked.
    page.wait_for_url(re.compile(r".*/admin/review/"))
    sam_card = page.locator("figure.selfie", has_text="Sam Seller")
    erin_card = page.locator("figure.selfie", has_text="Erin Engineer")
    sam_card.wait_for()
    erin_card.wait_for()
    assert sam_card.get_by_text("their pick").is_visible()
    assert erin_card.get_by_text("best of 1").is_visible()
    assert image_loaded(sam_card.get_by_alt_text("Sam Seller's pick"))
    screenshot(page, "6-review")
    sam_card.get_by_role("button", name="Approve").click()
    sam_card.get_by_text("Approved", exact=True).wait_for()
    erin_card.get_by_role("button", name="Approve").click()
    erin_card.get_by_text("Approved", exact=True).wait_for()
    assert page.locator("table tbody tr", has_text="Approved").count() == 2
    assert Headshot.objects.for_company(company).count() == 2
    screenshot(page, "7-reviewed")

    # The dashboard follows.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.wait_for_url(f"**/c/{company.slug}/admin/")
    assert _row(page, "Sam Seller").locator(".badge").inner_text().strip() == "Approved"
    assert _row(page, "Erin Engineer").locator(".badge").inner_text().strip() == "Approved"

    # Export: the ZIP has one photo per approved person; the CSV links their headshots.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Export").click()
    screenshot(page, "8-export")
    archive_path = _download(page.get_by_role("button", name="Download ZIP"), tmp_path, ".zip")
    assert zipfile.is_zipfile(archive_path)
    with zipfile.ZipFile(archive_path) as archive:
        assert sorted(archive.namelist()) == ["Erin-Engineer.jpg", "Sam-Seller.jpg"]
        assert all(archive.read(name)[:3] == b"\xff\xd8\xff" for name in archive.namelist())

    csv_path = _download(page.get_by_role("link", name="Everyone"), tmp_path, ".csv")
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    with_headshot = sorted(r["full_name"] for r in rows if r["headshot_url"])
    assert with_headshot == ["Erin Engineer", "Sam Seller"]
    assert {r["email"] for r in rows} >= {"uma@acme.example", "vic@acme.example"}
    assert all(r["headshot_url"].startswith(f"{live_server.url}/h/") for r in rows
               if r["headshot_url"])
    page.context.close()
