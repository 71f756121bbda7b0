"""Written consent before any upload, and the append-only, hash-chained consent log."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from core.errors import ServiceError
from privacy.models import ConsentNotice, ConsentRecord
from privacy.services import (
    RequestInfo,
    consent_chain_verify,
    consent_grant,
    notice_current,
    notice_publish,
)
from teams.models import Membership

from .helpers import at_once, consent_for, db_fingerprint, image_bytes

INFO = RequestInfo(ip_address="203.0.113.7", user_agent="Mozilla/5.0 (iPhone)")


def _sign(client, version=1, name="Mia Member", agree=True):
    data = {"notice_version": str(version), "signed_name": name}
    if agree:
        data["agree"] = "on"
    return client.post("/c/alpha/consent/", data, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
                       REMOTE_ADDR="203.0.113.7")


def test_the_notice_says_what_who_how_long_and_how_to_withdraw(tenant_a, settings):
    # Both processors in use on this installation (unused ones are not named: test_polish).
    settings.REPLICATE_API_TOKEN, settings.GPU_BASE_MODEL_PATH = "r8_test", "tiny:sdxl"
    page = tenant_a.client_for(tenant_a.member).get("/c/alpha/consent/").content.decode()
    for needle in ("Purpose", "face photos", "biometric", "Replicate", "own GPU workers",
                   "48 hours", "30 days", "How to withdraw"):
        assert needle in page, needle
    # The tick box is not pre-ticked.
    assert 'name="agree"' in page
    box = page.split('name="agree"')[0].rsplit("<input", 1)[1] + page.split('name="agree"')[1].split(">")[0]
    assert "checked" not in box


def test_written_consent_is_logged_with_the_exact_notice(tenant_a):
    client = tenant_a.client_for(tenant_a.member)
    response = _sign(client)
    assert response.status_code == 302 and response["Location"] == "/c/alpha/selfies/"
    record = ConsentRecord.objects.for_company(tenant_a.company).get()
    notice = notice_current(company=tenant_a.company)
    assert record.event == ConsentRecord.Event.GRANTED
    assert record.signed_name == "Mia Member"
    assert record.subject_user_id == tenant_a.member.user_id
    assert record.subject_email == "member@alpha.example"
    assert record.notice_version == 1
    assert record.notice_sha256 == hashlib.sha256(notice.text.encode()).hexdigest()
    assert record.method == ConsentRecord.Method.WEB_FORM
    assert record.ip_address == "203.0.113.7" and "iPhone" in record.user_agent
    assert record.prev_hash == "0" * 64
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.status == Membership.Status.CONSENTED


@pytest.mark.parametrize(("name", "agree", "message"), [
    ("Mia Member", False, b"Tick the box"),
    ("", True, b"This field is required"),
    ("M", True, b"Type your full name"),
])
def test_consent_needs_a_name_and_a_tick(tenant_a, name, agree, message):
    client = tenant_a.client_for(tenant_a.member)
    client.get("/c/alpha/consent/")  # publishes the default notice
    before = db_fingerprint()
    response = _sign(client, name=name, agree=agree)
    assert response.status_code == 400 and message in response.content
    assert db_fingerprint() == before


def test_consent_to_an_outdated_notice_is_refused(tenant_a):
    client = tenant_a.client_for(tenant_a.member)
    client.get("/c/alpha/consent/")
    notice_publish(company=tenant_a.company, body="A new notice text. " * 5,
                   created_by=tenant_a.admin.user)
    before = db_fingerprint()
    response = _sign(client, version=1)
    assert response.status_code == 400 and b"updated while you were reading" in response.content
    assert db_fingerprint() == before
    assert _sign(client, version=2).status_code == 302


def test_declining_collects_nothing(tenant_a):
    client = tenant_a.client_for(tenant_a.member)
    client.get("/c/alpha/consent/")
    before = db_fingerprint()
    page = client.get("/c/alpha/consent/declined/")
    assert b"non-AI option" in page.content
    upload = client.post("/c/alpha/selfies/", {"photos": _file()}, HTTP_ACCEPT="application/json")
    assert upload.status_code == 403
    assert db_fingerprint() == before


def _file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("me.jpg", image_bytes(), content_type="image/jpeg")


def test_every_notice_edit_is_a_new_version(tenant_a):
    admin = tenant_a.client_for(tenant_a.admin)
    admin.get("/c/alpha/admin/consent/")
    consent_for(tenant_a.member)
    response = admin.post("/c/alpha/admin/consent/", {"body": "We use your photos for our "
                                                      "website and directory only. " * 3})
    assert response.status_code == 302
    versions = list(ConsentNotice.objects.for_company(tenant_a.company).order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].text != versions[1].text
    assert all(v.sha256 == hashlib.sha256(v.text.encode()).hexdigest() for v in versions)
    # The processors and retention schedule cannot be edited away.
    assert "Likeness, which runs this platform" in versions[1].text
    assert "How long it is kept" in versions[1].text
    # An existing consent keeps pointing at what was signed.
    assert ConsentRecord.objects.for_company(tenant_a.company).get().notice_version == 1
    before = db_fingerprint()
    same = admin.post("/c/alpha/admin/consent/", {"body": versions[1].body})
    assert same.status_code == 400 and b"unchanged" in same.content
    assert db_fingerprint() == before


def test_withdrawal_is_a_new_record_and_stops_uploads(tenant_a):
    client = tenant_a.client_for(tenant_a.member)
    _sign(client)
    response = client.post("/c/alpha/consent/withdraw/", {"confirm": "yes"})
    assert response.status_code == 302
    records = list(ConsentRecord.objects.for_company(tenant_a.company).order_by("pk"))
    assert [r.event for r in records] == ["granted", "withdrawn"]
    assert records[1].prev_hash == records[0].hash
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.status == Membership.Status.WITHDRAWN
    before = db_fingerprint()
    upload = client.post("/c/alpha/selfies/", {"photos": _file()}, HTTP_ACCEPT="application/json")
    assert upload.status_code == 403 and b"after consent" in upload.content
    assert db_fingerprint() == before
    # Consent can be given again.
    assert _sign(client).status_code == 302
    tenant_a.member.refresh_from_db()
    assert tenant_a.member.status == Membership.Status.CONSENTED


def test_withdrawing_without_consent_changes_nothing(tenant_a):
    client = tenant_a.client_for(tenant_a.member)
    client.get("/c/alpha/consent/")  # publishes the default notice
    before = db_fingerprint()
    response = client.post("/c/alpha/consent/withdraw/", {"confirm": "yes"}, follow=True)
    assert b"no consent to withdraw" in response.content
    assert db_fingerprint() == before


def test_an_admin_records_a_paper_release(tenant_a):
    admin = tenant_a.client_for(tenant_a.admin)
    admin.get(f"/c/alpha/admin/people/{tenant_a.member.pk}/consent/")
    response = admin.post(f"/c/alpha/admin/people/{tenant_a.member.pk}/consent/", {
        "notice_version": "1", "signed_name": "Mia Member", "agree": "on"})
    assert response.status_code == 302
    record = ConsentRecord.objects.for_company(tenant_a.company).get()
    assert record.method == ConsentRecord.Method.ADMIN_RECORDED
    assert record.recorded_by_user_id == tenant_a.admin.user_id
    assert record.subject_user_id == tenant_a.member.user_id


def test_a_member_cannot_record_consent_for_someone_else(tenant_a):
    notice = notice_current(company=tenant_a.company)
    with pytest.raises(ServiceError, match="Only an admin"):
        consent_grant(company=tenant_a.company, membership=tenant_a.admin, notice=notice,
                      signed_name="Adam", agreed=True, request_info=INFO,
                      recorded_by=tenant_a.member)


# --- The chain -------------------------------------------------------------------------------


def _verify() -> tuple[int, str]:
    err = StringIO()
    try:
        call_command("consent_verify", stdout=StringIO(), stderr=err)
    except CommandError as error:
        return 1, err.getvalue() + str(error)
    return 0, err.getvalue()


def _three_records(tenant):
    consent_for(tenant.member)
    consent_for(tenant.admin)
    consent_for(tenant.owner)
    return list(ConsentRecord.objects.for_company(tenant.company).order_by("pk"))


def test_chains_are_per_company_and_verify(tenant_a, tenant_b):
    a = _three_records(tenant_a)
    b = _three_records(tenant_b)
    assert a[0].prev_hash == b[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in a[1:]] == [r.hash for r in a[:-1]]
    assert _verify() == (0, "")


def _forge(sql: str, params: list) -> None:
    """Change a row behind the application's back, as an attacker with DB access would."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        cursor.execute(sql, params)


@pytest.mark.superuser_attacker
def test_a_forged_row_breaks_the_chain(tenant_a):
    records = _three_records(tenant_a)
    _forge("UPDATE privacy_consentrecord SET signed_name = %s WHERE id = %s",
           ["Someone Else", records[1].pk])
    code, output = _verify()
    assert code == 1 and f"consent record {records[1].pk}" in output and "altered" in output
    assert consent_chain_verify(company=tenant_a.company)


@pytest.mark.superuser_attacker
def test_a_removed_row_breaks_the_chain(tenant_a):
    records = _three_records(tenant_a)
    _forge("DELETE FROM privacy_consentrecord WHERE id = %s", [records[1].pk])
    code, output = _verify()
    assert code == 1 and f"consent record {records[2].pk}" in output and "removed" in output


@pytest.mark.parametrize("statement", [
    "UPDATE privacy_consentrecord SET signed_name = 'x' WHERE id = %s",
    "DELETE FROM privacy_consentrecord WHERE id = %s",
])
def test_postgres_refuses_update_and_delete(tenant_a, statement):
    assert connection.vendor == "postgresql"
    record = _three_records(tenant_a)[0]
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [record.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            ConsentRecord.objects.for_company(tenant_a.company).filter(pk=record.pk).delete()
    assert _verify()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_consents_keep_one_linear_chain(tenant_a):
    notice_current(company=tenant_a.company)
    people = [tenant_a.member, tenant_a.admin, tenant_a.owner]
    errors: list[Exception] = []

    def sign(membership):
        try:
            consent_for(membership)
        except Exception as error:  # collected and asserted below
            errors.append(error)

    at_once(sign, people)
    assert errors == []
    assert ConsentRecord.objects.for_company(tenant_a.company).count() == 3
    assert consent_chain_verify(company=tenant_a.company) == []
