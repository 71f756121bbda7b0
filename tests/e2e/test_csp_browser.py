"""The Content-Security-Policy in a real browser: pages, their scripts and styles, and the
Swagger UI at /api/v1/docs/ work without 'unsafe-inline', and the browser reports no
violation on any of them."""

from __future__ import annotations

import pytest

from generation.demo import DEMO_PASSWORD, demo_seed

from ..helpers import selfie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.console_messages = console
    yield page
    context.close()


def _violations(page) -> list[str]:
    reported = page.evaluate("window.__violations || []")
    return reported + [m for m in page.console_messages if "Content Security Policy" in m]


def test_the_api_docs_render_under_the_policy(live_server, page):
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy
    page.get_by_text("Likeness API").first.wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/people/").first.wait_for()
    assert _violations(page) == []


def test_the_pages_of_an_admin_and_an_employee_raise_no_violation(live_server, page, settings):
    settings.REPLICATE_API_TOKEN = ""
    demo = demo_seed()
    selfie_for(_owner(demo))  # the selfies page then shows a photo and the upload script
    page.goto(f"{live_server.url}/login/")
    assert _violations(page) == []
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    slug = demo.company.slug
    for path in ("admin/", "admin/looks/", "admin/billing/", "admin/privacy/", "selfies/",
                 "headshots/", "admin/review/", "admin/uniformity/", "admin/export/"):
        response = page.goto(f"{live_server.url}/c/{slug}/{path}")
        assert response.ok, path
        assert response.headers["x-frame-options"] == "DENY"
        assert "camera=()" in response.headers["permissions-policy"]
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
        page.wait_for_load_state("load")
        assert _violations(page) == [], path
    # The look's colour swatch is drawn without a style attribute.
    page.goto(f"{live_server.url}/c/{slug}/admin/looks/")
    assert page.locator("svg.swatch rect").first.get_attribute("fill").startswith("#")


def _owner(demo):
    from teams.models import Membership

    return Membership.objects.for_company(demo.company).get(user=demo.owner)
