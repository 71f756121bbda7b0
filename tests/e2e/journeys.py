"""Steps several browser journeys share."""

from __future__ import annotations

from pathlib import Path

from generation.demo import DEMO_PASSWORD

from ..faces import face_bytes


def new_page(browser, **context_options):
    """A page in a fresh browser context, waiting at most 20 s for anything (``page.context``
    closes it)."""
    page = browser.new_context(**context_options).new_page()
    page.set_default_timeout(20_000)
    return page


def sign_in(page, *, url: str, email: str, password: str = DEMO_PASSWORD,
            lands_on: str = "") -> None:
    """Sign in with e-mail and password on the login page of the server at ``url``; with
    ``lands_on`` (a URL pattern), wait until the page the sign-in leads to is there."""
    page.goto(f"{url}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if lands_on:
        page.wait_for_url(lands_on)


def employee_joins_and_uploads(page, *, url: str, full_name: str, photo: Path) -> None:
    """From a personal invitation ``url``: accept it, sign the consent notice as
    ``full_name``, upload one good selfie (written to ``photo``), and see it accepted."""
    page.goto(url)
    page.get_by_role("button", name="Accept the invitation").click()
    page.get_by_role("link", name="Read the consent notice").click()
    page.get_by_label("Type your full name to sign").fill(full_name)
    page.get_by_label("I have read the notice").check()
    page.get_by_role("button", name="I agree").click()
    page.wait_for_url("**/selfies/")
    photo.write_bytes(face_bytes("obama.jpg"))
    page.get_by_label("Choose photos").set_input_files([str(photo)])
    with page.expect_navigation():
        page.get_by_role("button", name="Upload").click()
    assert page.locator(".badge-accepted").count() == 1
