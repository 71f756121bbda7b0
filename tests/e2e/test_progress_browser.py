"""The employee's headshots page follows a job live: the stage (queued, training,
generating, scoring) changes without reloading, and the photos appear when it is ready."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob

from ..helpers import approved_look
from .journeys import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_headshots_page_shows_each_stage_without_reloading(live_server, phone, screenshot,
                                                                tenant_a):
    member = tenant_a.member
    job = GenerationJob.objects.create(
        company=tenant_a.company, membership=member, look_version=approved_look(tenant_a.company),
        kind=GenerationJob.Kind.CONSISTENT_BATCH, backend=GenerationJob.Backend.GPU,
        seeds=[1, 2, 3, 4])
    page = phone
    sign_in(page, url=live_server.url, email=member.user.email,
            password="correct-horse-battery", lands_on="**/c/alpha/")
    page.goto(f"{live_server.url}/c/alpha/headshots/")
    stage = page.locator("[data-stage]")
    assert stage.inner_text() == "Queued: waiting for a worker"
    screenshot(page, "1-queued")
    page.evaluate("window.__samePage = true")

    def move(status: str, **progress) -> None:
        GenerationJob.objects.for_company(tenant_a.company).filter(pk=job.pk).update(
            status=status, progress=progress)

    move("running", phase="training", step=40, total=200)
    page.get_by_text("Training your personal model").wait_for()
    page.get_by_text("step 40 of 200").wait_for()
    screenshot(page, "2-training")
    move("running", phase="generating", step=2, total=4)
    page.get_by_text("Generating photos").wait_for()
    move("scoring")
    page.get_by_text("Checking likeness").wait_for()
    assert page.evaluate("window.__samePage === true")  # never reloaded on the way

    with page.expect_navigation():  # done: the page reloads for the photos
        move("ready")
    assert stage.inner_text() == "Ready"
    assert page.evaluate("window.__samePage === undefined")
    screenshot(page, "3-ready")
