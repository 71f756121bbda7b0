"""Selfie intake off the request path: the upload answers at once with a pending photo, an
intake process of the web process checks it (the bytes passed in memory, never stored), and
the uploader reads the verdict when it arrives. Real processes, real commits."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generation.models import Selfie
from teams.models import Membership

from . import images
from .faces import face_bytes
from .factories import MembershipFactory
from .helpers import consent_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

UPLOAD = "/c/alpha/selfies/"


@pytest.fixture
def background(settings):
    settings.SELFIE_INTAKE_PROCESSES = 1
    return settings


def _upload(client, data: bytes, name: str = "IMG_0001.JPG"):
    return client.post(UPLOAD, {"photos": SimpleUploadedFile(name, data)},
                       HTTP_ACCEPT="application/json")


def _verdict(client, url: str, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body["status"] != "pending":
            return body
        time.sleep(0.2)
    raise AssertionError("no verdict in time")


def test_the_upload_answers_at_once_and_the_verdict_follows(tenant_a, background):
    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    client.get(UPLOAD)  # the session exists before the upload
    with CaptureQueriesContext(connection) as queries:
        response = _upload(client, face_bytes("obama.jpg"))
    assert response.status_code == 200
    # The upload answers with a pending row and nothing else written: not the session (the
    # file's name travels with the photo), and the person is read once.
    written = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(written) == 1 and "generation_selfie" in written[0], written
    assert sum('FROM "teams_user"' in q["sql"] for q in queries.captured_queries) == 1
    pending = response.json()["results"][0]["selfie"]
    assert pending["status"] == "pending"
    row = Selfie.objects.for_company(tenant_a.company).get(pk=pending["id"])
    assert row.image_key == "" and row.status == Selfie.Status.PENDING  # nothing stored yet
    assert "Being checked" in client.get(UPLOAD).content.decode()

    verdict = _verdict(client, pending["status_url"])
    assert verdict["status"] == "accepted" and verdict["selfie"]["metrics"]["faces"] == 1
    row.refresh_from_db()
    assert row.status == Selfie.Status.ACCEPTED and row.content_sha256 != ""
    assert default_storage.exists(row.image_key) and default_storage.exists(row.thumb_key)
    assert client.get(verdict["selfie"]["thumb_url"]).status_code == 200
    member = Membership.objects.for_company(tenant_a.company).get(pk=tenant_a.member.pk)
    assert member.status == Membership.Status.UPLOADED and member.accepted_selfies == 1

    # The same photo again: refused as a duplicate once checked, and its row is gone.
    again = _upload(client, face_bytes("obama.jpg")).json()["results"][0]["selfie"]
    refused = _verdict(client, again["status_url"])
    assert refused == {"status": "refused", "error": "You already uploaded this photo."}
    assert not Selfie.objects.for_company(tenant_a.company).filter(pk=again["id"]).exists()


def test_a_damaged_photo_is_refused_with_why_and_leaves_nothing(tenant_a, tenant_b, background):
    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    pending = _upload(client, images.truncated_heic(), "IMG_0002.HEIC").json()
    pending = pending["results"][0]["selfie"]
    verdict = _verdict(client, pending["status_url"])
    assert verdict["status"] == "refused" and "damaged or incomplete" in verdict["error"]
    assert not Selfie.objects.for_company(tenant_a.company).exists()
    # A reload says which photo was not kept and why, once, however often it was asked.
    assert client.get(pending["status_url"]).json()["status"] == "refused"
    page = client.get(UPLOAD).content.decode()
    assert page.count("<strong>IMG_0002.HEIC</strong>: ") == 1
    assert "damaged or incomplete" in page
    # An admin may see that it was refused, not what the file was called; nobody else
    # learns anything about it, not even a colleague.
    admin = tenant_a.client_for(tenant_a.admin)
    assert admin.get(pending["status_url"]).status_code == 200
    assert tenant_a.client_for(tenant_a.owner).get(pending["status_url"]).status_code == 200
    on_behalf = admin.get(f"/c/alpha/admin/people/{tenant_a.member.pk}/selfies/")
    assert on_behalf.status_code == 200 and "IMG_0002" not in on_behalf.content.decode()
    colleague = MembershipFactory(company=tenant_a.company, status=Membership.Status.CONSENTED)
    assert tenant_a.client_for(colleague).get(pending["status_url"]).status_code == 404
    assert tenant_b.client_for(tenant_b.admin).get(
        pending["status_url"].replace("/alpha/", "/bravo/")).status_code == 404


def test_a_photo_lost_with_its_web_process_is_reported_as_interrupted(tenant_a, background):
    consent_for(tenant_a.member)
    lost = Selfie.objects.create(
        company=tenant_a.company, membership=tenant_a.member, image_key="", thumb_key="",
        width=0, height=0, size_bytes=0, source_format="", status=Selfie.Status.PENDING,
        content_sha256="pending-lost")
    Selfie.objects.for_company(tenant_a.company).filter(pk=lost.pk).update(
        created_at=timezone.now() - timezone.timedelta(
            seconds=django_settings.SELFIE_INTAKE_TIMEOUT_SECONDS + 1))
    client = tenant_a.client_for(tenant_a.member)
    body = client.get(f"/c/alpha/selfies/{lost.pk}/status/").json()
    assert body["status"] == "refused" and "interrupted" in body["error"]
    assert not Selfie.objects.for_company(tenant_a.company).filter(pk=lost.pk).exists()


def test_a_photo_deleted_while_being_checked_stays_deleted(tenant_a, background):
    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    pending = _upload(client, face_bytes("obama2.jpg")).json()["results"][0]["selfie"]
    Selfie.objects.for_company(tenant_a.company).filter(pk=pending["id"]).delete()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and client.get(pending["status_url"]).status_code == 200:
        time.sleep(0.2)
    time.sleep(1.0)  # the finisher had its chance
    assert not Selfie.objects.for_company(tenant_a.company).exists()
    _dirs, files = default_storage.listdir(f"selfies/c{tenant_a.company.pk}/m{tenant_a.member.pk}") \
        if default_storage.exists(f"selfies/c{tenant_a.company.pk}") else ([], [])
    assert files == []


def test_uploads_up_to_the_cap_never_touch_the_disk():
    assert django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE >= django_settings.SELFIE_MAX_BYTES


def test_an_intake_process_that_dies_is_replaced_and_uploads_go_on(tenant_a, background):
    import os
    import signal

    from generation.intake import background as intake

    consent_for(tenant_a.member)
    client = tenant_a.client_for(tenant_a.member)
    first = _upload(client, face_bytes("obama.jpg")).json()["results"][0]["selfie"]
    assert _verdict(client, first["status_url"])["status"] == "accepted"
    pool = intake._pool
    for pid in list(pool._processes):  # a decoder or model crash takes the process down
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not pool._broken and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pool._broken
    second = _upload(client, face_bytes("obama2.jpg")).json()["results"][0]["selfie"]
    assert _verdict(client, second["status_url"])["status"] in ("accepted", "rejected")
    assert intake._pool is not pool


def _child_priority(background, priority: str) -> tuple[int, int]:
    """(scheduling policy, nice) of an intake process started with ``priority``."""
    from generation.intake import background as intake

    background.SELFIE_INTAKE_PRIORITY = priority
    started_with = intake._pool
    intake._pool = None  # a pool of this test's own, with this setting
    try:
        return intake._executor(1).submit(_policy_and_nice).result(timeout=60)
    finally:
        intake._pool.shutdown(wait=True)
        intake._pool = started_with


def _policy_and_nice() -> tuple[int, int]:
    import os

    return os.sched_getscheduler(0), os.nice(0)


def test_intake_processes_run_only_on_cores_nobody_else_wants(background):
    """By default the idle class: a web thread, or the database backend it waits on, takes a
    core from intake the moment it wakes."""
    import os

    policy, _ = _child_priority(background, "idle")
    assert policy == os.SCHED_IDLE


def test_an_operator_may_run_intake_at_a_nice_instead(background):
    import os

    policy, nice = _child_priority(background, "4")
    assert (policy, nice) == (os.SCHED_OTHER, min(19, os.nice(0) + 4))


@pytest.mark.parametrize("value", ["", "20", "-1", "low"])
def test_a_priority_that_is_neither_idle_nor_a_nice_stops_the_start(monkeypatch, value):
    import importlib

    from config.settings.components import generation

    monkeypatch.setenv("SELFIE_INTAKE_PRIORITY", value)
    with pytest.raises(ValueError, match="SELFIE_INTAKE_PRIORITY"):
        importlib.reload(generation)
    monkeypatch.delenv("SELFIE_INTAKE_PRIORITY")
    importlib.reload(generation)
