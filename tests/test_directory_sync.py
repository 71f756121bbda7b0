"""Approving a headshot writes it to the company's Microsoft Entra, Google Workspace and
Slack directories (local fakes of their APIs) and sends a signed webhook; the admin sees
each person's sync state; failures are retried or shown."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from delivery.directory.sync import directory_sync_run
from delivery.models import DirectoryConnection, DirectorySync
from delivery.webhooks.services import webhook_endpoint_create

from .helpers import candidate_for, db_fingerprint
from .test_outbound_webhooks import receiver  # noqa: F401 (fixture)

EMAIL = "member@alpha.example"


@pytest.fixture
def connected(tenant_a, fake_directories, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    for provider in ("entra", "google", "slack"):
        fake = getattr(fake_directories, provider)
        fake.add_user(EMAIL)
        if provider == "google":
            fake.add_admin(tenant_a.owner.user.email)
            config = fake.connection_config(tenant_a.owner.user.email)
        else:
            config = fake.connection_config()
        DirectoryConnection.objects.create(company=tenant_a.company, provider=provider,
                                           config=config)
    return fake_directories


def _approve(tenant_a, candidate, capture):
    with capture(execute=True):
        response = tenant_a.client_for(tenant_a.admin).post(
            f"/c/alpha/admin/review/{candidate.pk}/", {"action": "approve"})
    assert response.status_code == 302


def test_approval_reaches_every_directory_and_a_signed_webhook(
        tenant_a, connected, receiver, django_capture_on_commit_callbacks):  # noqa: F811
    endpoint, secret = webhook_endpoint_create(
        company=tenant_a.company, actor=tenant_a.owner, url=receiver.url("/hook"),
        events=["headshot.approved"])
    receiver.secrets["/hook"] = secret
    candidate = candidate_for(tenant_a.member)
    _approve(tenant_a, candidate, django_capture_on_commit_callbacks)

    for provider in ("entra", "google", "slack"):
        photo = getattr(connected, provider).photo_of(EMAIL)
        assert photo is not None, provider
        image = Image.open(io.BytesIO(photo))
        assert image.format == "JPEG" and image.width == image.height, provider
    syncs = DirectorySync.objects.for_company(tenant_a.company)
    assert {s.status for s in syncs} == {"synced"} and syncs.count() == 3
    assert {s.headshot_candidate_id for s in syncs} == {candidate.pk}

    (delivery,) = receiver.requests
    assert delivery.verified
    event = json.loads(delivery.body)
    assert event["type"] == "headshot.approved"
    assert event["data"]["person"] == tenant_a.member.pk

    page = tenant_a.client_for(tenant_a.admin).get("/c/alpha/admin/directory/").content.decode()
    assert page.count("Up to date") == 3


def test_a_throttled_directory_is_retried(tenant_a, connected,
                                          django_capture_on_commit_callbacks):
    connected.slack.fail_next(1, 429, retry_after=1)
    candidate = candidate_for(tenant_a.member)
    _approve(tenant_a, candidate, django_capture_on_commit_callbacks)
    slack = DirectorySync.objects.for_company(tenant_a.company).get(connection__provider="slack")
    # Waiting for its retry (in production the task's countdown; in-process, the next run).
    assert slack.status == "pending" and slack.attempts == 1 and slack.last_error
    assert connected.slack.photo_of(EMAIL) is None
    assert directory_sync_run(sync_id=slack.pk) == "synced"
    assert connected.slack.photo_of(EMAIL) is not None
    # The others were not held up.
    assert set(DirectorySync.objects.for_company(tenant_a.company).exclude(
        pk=slack.pk).values_list("status", flat=True)) == {"synced"}


def test_a_person_missing_from_the_directory_is_marked(tenant_a, fake_directories,
                                                      django_capture_on_commit_callbacks):
    DirectoryConnection.objects.create(company=tenant_a.company, provider="slack",
                                       config=fake_directories.slack.connection_config())
    _approve(tenant_a, candidate_for(tenant_a.member), django_capture_on_commit_callbacks)
    sync = DirectorySync.objects.for_company(tenant_a.company).get()
    assert sync.status == "not_found" and sync.last_error


def test_sync_now_resends_everyone_and_is_admin_only(tenant_a, tenant_b, connected,
                                                     django_capture_on_commit_callbacks):
    _approve(tenant_a, candidate_for(tenant_a.member), django_capture_on_commit_callbacks)
    member, outsider = tenant_a.client_for(tenant_a.member), tenant_b.client_for(tenant_b.owner)
    before = db_fingerprint()
    assert member.post("/c/alpha/admin/directory/sync/").status_code == 403
    assert outsider.post("/c/alpha/admin/directory/sync/").status_code == 404
    assert member.get("/c/alpha/admin/directory/").status_code == 403
    assert outsider.get("/c/alpha/admin/directory/").status_code == 404
    assert db_fingerprint() == before
    puts = len(connected.entra.requests_to("PUT"))
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client_for(tenant_a.owner).post("/c/alpha/admin/directory/sync/")
    assert response.status_code == 302
    assert len(connected.entra.requests_to("PUT")) == puts + 1


def test_saving_a_connection_on_the_page(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post("/c/alpha/admin/directory/", {"provider": "entra", "enabled": "on"})
    assert response.status_code == 400 and "Required for this directory" in \
        response.content.decode()
    assert not DirectoryConnection.objects.for_company(tenant_a.company).exists()
    response = client.post("/c/alpha/admin/directory/", {
        "provider": "entra", "enabled": "on", "tenant_id": "contoso",
        "client_id": "app", "client_secret": "s3cret"})
    assert response.status_code == 302
    connection = DirectoryConnection.objects.for_company(tenant_a.company).get()
    assert connection.config["client_secret"] == "s3cret"
    assert "s3cret" not in client.get("/c/alpha/admin/directory/").content.decode()
