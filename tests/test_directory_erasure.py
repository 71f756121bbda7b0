"""Erasure reaches the copies of a person's headshot in the company's directories: the photo
is removed from Microsoft Entra ID and Google Workspace (local fakes of their APIs), and
where a directory cannot remove it (Slack) the receipt and the person's erasure request say
so, naming the directory."""

from __future__ import annotations

import pytest
from django.core import mail

from delivery.models import DirectorySync
from privacy.dsr import dsr_create
from privacy.erasure import RULE_LEAVER, person_erase
from privacy.models import DataSubjectRequest, DeletionReceipt

from .helpers import candidate_for
from .test_directory_sync import EMAIL, _approve, connected  # noqa: F401 (fixture)


@pytest.fixture
def photo_everywhere(tenant_a, connected, django_capture_on_commit_callbacks):  # noqa: F811
    _approve(tenant_a, candidate_for(tenant_a.member), django_capture_on_commit_callbacks)
    for provider in ("entra", "google", "slack"):
        assert getattr(connected, provider).photo_of(EMAIL) is not None, provider
    mail.outbox.clear()  # the approval's own e-mail (generation/notifications.py) is not the point
    return connected


def _receipts(company, user_id) -> dict[str, str]:
    return dict(DeletionReceipt.objects.for_company(company).filter(
        subject_user_id=user_id, kind__startswith="directory_copy").values_list(
        "object_ref", "kind"))


def test_a_leavers_photo_is_removed_from_the_directories_that_allow_it(
        tenant_a, photo_everywhere, django_capture_on_commit_callbacks):
    member = tenant_a.member
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client_for(tenant_a.admin).post(
            f"/c/alpha/admin/people/{member.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 302
    assert photo_everywhere.entra.photo_of(EMAIL) is None
    assert photo_everywhere.google.photo_of(EMAIL) is None
    assert photo_everywhere.entra.requests_to("DELETE", "/v1.0/users/")
    assert photo_everywhere.google.requests_to("DELETE", "/admin/directory/v1/users/")
    # Slack keeps it (no way for an admin to remove a member's photo), and the receipt says so.
    assert photo_everywhere.slack.photo_of(EMAIL) is not None
    receipts = _receipts(tenant_a.company, member.user_id)
    assert sorted(receipts.values()) == ["directory_copy", "directory_copy", "directory_copy_kept"]
    assert [ref for ref, kind in receipts.items() if kind == "directory_copy_kept"][0].startswith(
        "directory:slack:")
    assert not DirectorySync.objects.for_company(tenant_a.company).filter(
        membership=member).exists()
    # The leaver has no page left to read: an e-mail tells them where their photo remains.
    # (Other mail may have gone to them before: their headshot's approval, for one.)
    (told,) = [message for message in mail.outbox
               if message.to == [EMAIL] and "directory" in message.subject.lower()]
    assert "Slack" in told.body and "Microsoft" not in told.body


def test_an_erasure_request_tells_the_person_where_their_photo_remains(
        tenant_a, photo_everywhere, django_capture_on_commit_callbacks):
    member = tenant_a.member
    with django_capture_on_commit_callbacks(execute=True):
        request = dsr_create(company=tenant_a.company, membership=member, requested_by=member,
                             kind=DataSubjectRequest.Kind.ERASURE)
    request.refresh_from_db()
    assert request.status == "completed"
    assert "Slack" in request.outcome and "Microsoft" not in request.outcome \
        and "Google" not in request.outcome
    page = tenant_a.client_for(member).get("/c/alpha/privacy/my-data/").content.decode()
    assert "could not be removed" in page and "Slack" in page


def test_a_directory_that_refuses_removal_is_named_not_a_failure(tenant_a, photo_everywhere):
    photo_everywhere.entra.fail_next(1, 403, on="api")  # permission withdrawn meanwhile
    result = person_erase(company=tenant_a.company, membership=tenant_a.member, rule=RULE_LEAVER)
    assert photo_everywhere.google.photo_of(EMAIL) is None
    assert photo_everywhere.entra.photo_of(EMAIL) is not None
    assert sorted(line.split(":")[0] for line in result.not_removed) == [
        "Microsoft Entra ID", "Slack"]
    assert not DirectorySync.objects.for_company(tenant_a.company).filter(
        membership=tenant_a.member).exists()
