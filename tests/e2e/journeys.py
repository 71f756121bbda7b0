"""Steps several browser journeys share."""

from __future__ import annotations

from pathlib import Path

from ..faces import face_bytes


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
