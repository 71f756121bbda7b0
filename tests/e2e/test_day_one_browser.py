"""What a new customer does first, in a real browser (issue 15): the admin signs in and
lands on the dashboard, downloads the CSV template and imports people by first and last
name; an employee withdraws consent, or deletes a selfie, only after confirming. Every page is
scanned by axe."""

from __future__ import annotations

import pytest

from generation.models import Selfie
from privacy.models import ConsentRecord
from teams.models import Membership

from ..faces import face_bytes
from ..helpers import consent_for, selfie_for
from .journeys import new_page, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PASSWORD = "correct-horse-battery"  # tests/factories.py


def test_admin_imports_people_by_name_from_the_template(live_server, browser, screenshot,
                                                         tenant_a, tmp_path):
    page = new_page(browser, **DESKTOP)
    # The dashboard, not the employee page.
    sign_in(page, url=live_server.url, email=tenant_a.admin.user.email, password=PASSWORD,
            lands_on="**/c/alpha/admin/")
    screenshot(page, "1-dashboard")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.get_by_role("link", name="Import CSV").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a template").click()
    template = tmp_path / "template.csv"
    download.value.save_as(template)
    header, example = template.read_text().splitlines()
    assert header == "email,first_name,last_name,team,job_title"
    template.write_text(f"{header}\numa@alpha.example,Uma,Understudy,Design,Designer\n")
    page.get_by_label("CSV file").set_input_files(str(template))
    page.get_by_role("button", name="Check only").click()
    page.get_by_role("heading", name="Ready: 1 person").wait_for()
    screenshot(page, "2-import-preview")
    page.get_by_label("CSV file").set_input_files(str(template))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url("**/c/alpha/admin/")
    page.get_by_text("Imported 1 person.").wait_for()
    screenshot(page, "3-imported")
    uma = Membership.objects.for_company(tenant_a.company).get(user__email="uma@alpha.example")
    assert uma.user.full_name == "Uma Understudy"


@pytest.fixture
def member_page(live_server, phone, tenant_a):
    """The employee, who has consented, signed in on her phone."""
    consent_for(tenant_a.member)
    sign_in(phone, url=live_server.url, email=tenant_a.member.user.email, password=PASSWORD,
            lands_on="**/c/alpha/")
    return phone


def test_employee_confirms_before_withdrawing_consent(live_server, member_page, screenshot,
                                                      tenant_a):
    page = member_page
    page.goto(f"{live_server.url}/c/alpha/consent/")
    page.get_by_role("link", name="Withdraw my consent").click()
    page.get_by_role("heading", name="Withdraw your consent?").wait_for()
    screenshot(page, "1-confirm")
    page.get_by_role("link", name="No, keep it").click()
    assert ConsentRecord.objects.for_company(tenant_a.company).latest("pk").event == "granted"

    page.get_by_role("link", name="Withdraw my consent").click()
    page.get_by_role("button", name="Yes, withdraw my consent").click()
    page.get_by_text("Consent withdrawn.").wait_for()
    screenshot(page, "2-withdrawn")
    assert ConsentRecord.objects.for_company(tenant_a.company).latest("pk").event == "withdrawn"


def test_employee_confirms_before_deleting_a_selfie(live_server, member_page, screenshot,
                                                    tenant_a):
    selfie = selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    page = member_page
    page.goto(f"{live_server.url}/c/alpha/selfies/")
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("heading", name="Delete this photo?").wait_for()
    assert Selfie.objects.for_company(tenant_a.company).filter(pk=selfie.pk).exists()
    screenshot(page, "1-confirm-delete")
    page.get_by_role("link", name="No, go back").click()
    page.wait_for_url("**/selfies/")
    assert Selfie.objects.for_company(tenant_a.company).filter(pk=selfie.pk).exists()

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Yes, delete the photo").click()
    page.get_by_text("Photo deleted.").wait_for()
    assert not Selfie.objects.for_company(tenant_a.company).filter(pk=selfie.pk).exists()
