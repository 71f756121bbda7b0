"""What a customer notices on day one, each fixed (issue 15, point 7): where an admin lands,
a confirmation before withdrawing consent, retention in days, the CSV import's name columns
and template, processors named only when used, "1 person", the favicon, an address said
once; and the accessibility of what every page shares (messages, form descriptions, the
focus ring, review buttons, tables at 320 px)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from privacy.models import ConsentRecord, RetentionPolicy
from privacy.services import notice_current
from teams.models import Membership
from teams.services.csv_import import csv_import_check, csv_template

from .factories import MembershipFactory, UserFactory
from .helpers import candidate_for, consent_for, db_fingerprint

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


# --- Where people land, and what asks first -------------------------------------------------


@pytest.mark.parametrize(("role", "page"), [("owner", "/c/alpha/admin/"),
                                            ("admin", "/c/alpha/admin/"),
                                            ("member", "/c/alpha/")])
def test_signing_in_lands_admins_on_the_dashboard_and_employees_on_their_page(tenant_a, client,
                                                                              role, page):
    user = getattr(tenant_a, role).user
    response = client.post("/login/", {"username": user.email,
                                       "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == page


def test_withdrawing_consent_asks_first_and_a_bare_post_changes_nothing(tenant_a):
    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    consent_page = client.get("/c/alpha/consent/").content.decode()
    # The consent page links to the confirmation; it has no one-tap withdraw form.
    assert 'href="/c/alpha/consent/withdraw/"' in consent_page
    assert 'action="/c/alpha/consent/withdraw/"' not in consent_page
    confirm = client.get("/c/alpha/consent/withdraw/")
    assert confirm.status_code == 200
    assert b"Yes, withdraw my consent" in confirm.content and b"No, keep it" in confirm.content

    before = db_fingerprint()
    assert client.post("/c/alpha/consent/withdraw/").status_code == 400
    assert db_fingerprint() == before
    assert client.post("/c/alpha/consent/withdraw/", {"confirm": "yes"}).status_code == 302
    assert ConsentRecord.objects.for_company(tenant_a.company).latest("pk").event == "withdrawn"


# --- Retention in days ------------------------------------------------------------------------


def test_retention_is_entered_in_days_and_kept_in_hours(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    page = client.get("/c/alpha/admin/privacy/").content.decode()
    assert "in days" in page and 'name="unchosen_candidates_days"' in page
    assert re.search(r'name="unchosen_candidates_days" value="7"', page)  # 168 hours
    assert "unchosen_candidates_hours" not in page
    values = {name: value for name, value in re.findall(
        r'name="(\w+_days)"(?: [^>]*?)? value="([^"]*)"', page)}
    values.update(unchosen_candidates_days="0.5", selfies_after_last_job_days="1.5")
    response = client.post("/c/alpha/admin/privacy/", values)
    assert response.status_code == 302, response.content.decode()[:2000]
    row = RetentionPolicy.objects.for_company(tenant_a.company).get()
    assert row.unchosen_candidates_hours == 12 and row.selfies_after_last_job_hours == 36
    assert row.selfies_max_hours == 720  # 30 days, as the page showed it


# --- The CSV import ---------------------------------------------------------------------------


def _import(client, text: str, action: str = "import"):
    upload = SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")
    return client.post("/c/alpha/admin/import/", {"file": upload, "action": action},
                       follow=True)


def test_the_csv_import_takes_first_and_last_names(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = _import(client, "Email,First name,Last name,Team\n"
                               "sam@alpha.example,Sam,Seller,Sales\n"
                               "erin@alpha.example,Erin,,\n")
    assert response.status_code == 200
    names = dict(Membership.objects.for_company(tenant_a.company).filter(
        user__email__in=["sam@alpha.example", "erin@alpha.example"]).values_list(
        "user__email", "user__full_name"))
    assert names == {"sam@alpha.example": "Sam Seller", "erin@alpha.example": "Erin"}


def test_the_csv_import_offers_a_template_the_importer_accepts(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    page = client.get("/c/alpha/admin/import/").content.decode()
    url = reverse("teams:csv_import_template", kwargs={"company_slug": "alpha"})
    assert f'href="{url}"' in page
    download = client.get(url)
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    text = download.content.decode()
    assert text.splitlines()[0] == "email,first_name,last_name,team,job_title"
    assert text == csv_template()
    result = csv_import_check(company=tenant_a.company, data=download.content)
    assert result.ok and [row.name for row in result.rows] == ["Sam Seller"]


def test_one_person_is_one_person(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    checked = _import(client, "email,name\nsolo@alpha.example,Solo\n", action="check")
    assert "Ready: 1 person<" in checked.content.decode()
    imported = _import(client, "email,name\nsolo@alpha.example,Solo\n").content.decode()
    assert "Imported 1 person." in imported and "1 people" not in imported


def test_an_address_is_named_once_in_an_invitation_error(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post("/c/alpha/admin/invite/", {"emails": "member@alpha.example"})
    (line,) = re.findall(r'<li class="error">([^<]*)</li>', response.content.decode())
    assert line == "member@alpha.example is already a member of Alpha."


# --- Processors -------------------------------------------------------------------------------


def test_the_notice_names_only_the_processors_in_use(tenant_a, tenant_b, settings):
    settings.REPLICATE_API_TOKEN, settings.GPU_BASE_MODEL_PATH = "", ""
    text = notice_current(company=tenant_a.company).text
    assert "Likeness, which runs this platform" in text
    assert "Replicate" not in text and "GPU workers" not in text
    settings.REPLICATE_API_TOKEN = "r8_configured"
    text = notice_current(company=tenant_b.company).text
    assert "Replicate, Inc." in text and "GPU workers" not in text


# --- Favicon ----------------------------------------------------------------------------------


def test_there_is_a_favicon(client):
    page = client.get("/login/").content.decode()
    assert re.search(r'<link rel="icon" href="/static/favicon\.svg"', page)
    assert finders.find("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"


# --- Accessibility ----------------------------------------------------------------------------


class _Page(HTMLParser):
    """Ids, aria-describedby references, and the structure of lists on one page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.described: list[tuple[str, str]] = []
        self.stack: list[tuple[str, dict]] = []
        self.bad_lists: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for ref in (attrs.get("aria-describedby") or "").split():
            self.described.append((attrs.get("name") or tag, ref))
        if tag in ("ul", "ol") and attrs.get("role"):
            self.bad_lists.append(f"<{tag} role={attrs['role']}>")
        if tag == "li" and self.stack and self.stack[-1][0] not in ("ul", "ol", "menu"):
            self.bad_lists.append(f"<li> inside <{self.stack[-1][0]}>")
        if tag not in ("input", "br", "img", "meta", "link", "hr"):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


ADMIN_FORMS = ["/c/alpha/admin/privacy/", "/c/alpha/admin/import/", "/c/alpha/admin/invite/",
               "/c/alpha/admin/settings/", "/c/alpha/admin/people/add/",
               "/c/alpha/admin/consent/", "/c/alpha/admin/links/"]


def test_every_form_description_points_at_an_id_on_the_page(tenant_a):
    client = tenant_a.client_for(tenant_a.owner)
    pages = {url: client.get(url) for url in ADMIN_FORMS}
    # And with errors: each field's error is described by the input too.
    pages["privacy with errors"] = client.post("/c/alpha/admin/privacy/",
                                               {"exports_days": "-1"})
    pages["consent with errors"] = tenant_a.client_for(tenant_a.member).post(
        "/c/alpha/consent/", {"signed_name": ""})
    described = 0
    for url, response in pages.items():
        assert response.status_code in (200, 400), url
        page = _parse(response.content.decode())
        missing = [(name, ref) for name, ref in page.described if ref not in page.ids]
        assert not missing, (url, missing)
        described += len(page.described)
    assert described >= 10  # help texts and errors were there to describe


def test_messages_are_a_list_inside_a_status_region(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post("/c/alpha/admin/invite/", {"emails": "new@alpha.example"},
                           follow=True)
    html = response.content.decode()
    assert '<div role="status"><ul class="messages">' in html
    assert '<li class="msg msg-success">' in html
    assert _parse(html).bad_lists == []


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_focus_ring_stands_out_against_the_page_and_the_cards():
    css = (ROOT / "static" / "css" / "likeness.css").read_text()
    variables = {name: value if len(value) == 7 else "#" + "".join(c * 2 for c in value[1:])
                 for name, value in re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})\b",
                                               css)}
    rule = re.search(r"button:focus-visible[^{]*\{([^}]*)\}", css).group(1)
    colour = re.search(r"outline:\s*\d+px solid ([^;]+);", rule).group(1).strip()
    colour = variables[colour[6:-1]] if colour.startswith("var(--") else colour
    for background in (variables["bg"], variables["card"]):
        assert _contrast(colour, background) >= 3, (colour, background)


def test_each_review_button_names_whose_photo_it_decides(tenant_a):
    people = [tenant_a.member, MembershipFactory(
        company=tenant_a.company, team=tenant_a.team,
        user=UserFactory(email="sam@alpha.example", full_name="Sam Seller"))]
    for person in people:
        candidate_for(person)
        Membership.objects.for_company(tenant_a.company).filter(pk=person.pk).update(
            status=Membership.Status.REVIEW)
    html = tenant_a.client_for(tenant_a.admin).get("/c/alpha/admin/review/").content.decode()
    names = [re.sub(r"<[^>]+>", "", label).strip() for label in re.findall(
        r'<button type="submit" name="action" value="(?:approve|reject)"[^>]*>(.*?)</button>',
        html)]
    assert len(names) == 4
    assert len(set(names)) == 4, names
    assert "Approve Sam Seller's photo" in names


def test_tables_reflow_at_320_pixels():
    """A table either becomes cards on a narrow screen (class="responsive") or scrolls
    within itself, its long values wrapping: the page never scrolls sideways."""
    css = (ROOT / "static" / "css" / "likeness.css").read_text()
    narrow = css[css.index("@media (max-width: 640px)"):]
    assert re.search(r"table:not\(\.responsive\)\s*\{[^}]*overflow-x:\s*auto", narrow)
    assert re.search(r"td, th\s*\{[^}]*overflow-wrap:\s*anywhere", narrow)
    assert re.search(r"table\.responsive td\s*\{[^}]*display:\s*block", narrow)
