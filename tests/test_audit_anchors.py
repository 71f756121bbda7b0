"""The consent log and the credit ledger are anchored: deleting the newest entries,
truncating the table or rewriting any suffix is detected by `consent_verify` and
`ledger_verify`, and PostgreSQL refuses TRUNCATE outright.

The attacks are made as someone with database access would make them: SQL behind the
application's back, with the row triggers switched off where they would refuse it.
"""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from billing.ledger import ledger_entry_hash
from billing.models import CreditEntry, LedgerCheckpoint, LedgerHead
from billing.services import credits_adjust
from billing.tasks import ledger_checkpoint
from core.anchoring import GENESIS
from privacy.models import ConsentCheckpoint, ConsentHead, ConsentRecord
from privacy.services import RequestInfo, consent_withdraw, record_hash
from privacy.tasks import consent_checkpoint

from .helpers import consent_for

INFO = RequestInfo(ip_address="203.0.113.7", user_agent="pytest")


def _behind_the_back(*statements: tuple[str, list]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # Foreign keys checked now: PostgreSQL truncates no table with checks pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        for sql, params in statements:
            cursor.execute(sql, params)


def _truncate_refused(*tables: str) -> None:
    """PostgreSQL refuses TRUNCATE on each of ``tables`` (the append-only triggers)."""
    assert connection.vendor == "postgresql"
    for table in tables:
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"TRUNCATE {table} CASCADE")


def _newest_deleted_is_detected(table: str, newest, command: str, *, left: int) -> None:
    """With the newest row of ``table`` deleted behind the log's back, ``command`` fails,
    counting ``left`` entries where the signed head counts one more."""
    _behind_the_back((f"DELETE FROM {table} WHERE id = %s", [newest.pk]))
    code, output = _run(command)
    assert code == 1 and f"{left} entries" in output and f"counts {left + 1}" in output


def _rolled_back(entries_table: str, newest, head_table: str, old_head) -> None:
    """Remove the newest entry and put the head back to ``old_head``, an earlier, genuinely
    signed state: a rollback only the checkpoints can catch."""
    _behind_the_back(
        (f"DELETE FROM {entries_table} WHERE id = %s", [newest.pk]),
        (f"UPDATE {head_table} SET entries = %s, head_hash = %s, mac = %s "
         "WHERE company_id = %s", [old_head.entries, old_head.head_hash, old_head.mac,
                                   old_head.company_id]))


def _run(command: str) -> tuple[int, str]:
    err = StringIO()
    try:
        call_command(command, stdout=StringIO(), stderr=err)
    except CommandError as error:
        return 1, err.getvalue() + str(error)
    return 0, err.getvalue()


@pytest.fixture
def consent_log(tenant_a):
    """Three consents, then a withdrawal as the newest record."""
    for membership in (tenant_a.owner, tenant_a.admin, tenant_a.member):
        consent_for(membership)
    consent_withdraw(company=tenant_a.company, membership=tenant_a.member, request_info=INFO)
    records = list(ConsentRecord.objects.for_company(tenant_a.company).order_by("pk"))
    assert records[-1].event == ConsentRecord.Event.WITHDRAWN
    assert _run("consent_verify") == (0, "")
    return records


def test_each_consent_moves_the_signed_head(tenant_a, consent_log):
    head = ConsentHead.objects.for_company(tenant_a.company).get()
    assert (head.entries, head.head_hash) == (4, consent_log[-1].hash)


@pytest.mark.superuser_attacker
def test_deleting_the_newest_record_a_withdrawal_is_detected(tenant_a, consent_log):
    _newest_deleted_is_detected("privacy_consentrecord", consent_log[-1], "consent_verify",
                                left=3)


@pytest.mark.superuser_attacker
def test_truncating_the_consent_log_is_refused_by_postgres(tenant_a, consent_log):
    _truncate_refused("privacy_consentrecord", "privacy_consenthead", "privacy_consentcheckpoint")
    assert ConsentRecord.objects.for_company(tenant_a.company).count() == 4


@pytest.mark.superuser_attacker
def test_an_empty_log_after_a_truncate_does_not_verify_clean(tenant_a, consent_log):
    _behind_the_back(("TRUNCATE privacy_consentrecord", []))
    code, output = _run("consent_verify")
    assert code == 1 and "0 entries" in output


@pytest.mark.superuser_attacker
def test_rewriting_the_newest_record_with_a_fresh_hash_is_detected(tenant_a, consent_log):
    newest = consent_log[-1]
    newest.event = ConsentRecord.Event.GRANTED  # the withdrawal never happened...
    forged = record_hash(newest)  # ...and the chain is recomputed to match
    _behind_the_back(("UPDATE privacy_consentrecord SET event = 'granted', hash = %s "
                      "WHERE id = %s", [forged, newest.pk]))
    code, output = _run("consent_verify")
    assert code == 1 and "rewritten" in output


@pytest.mark.superuser_attacker
def test_a_head_moved_back_without_the_key_is_detected_and_refused(tenant_a, consent_log):
    with pytest.raises(DatabaseError, match="only moves forward"):
        with transaction.atomic():
            ConsentHead.objects.for_company(tenant_a.company).update(
                entries=3, head_hash=consent_log[-2].hash)
    with pytest.raises(DatabaseError, match="only moves forward"):
        with transaction.atomic():
            ConsentHead.objects.for_company(tenant_a.company).delete()
    _behind_the_back(
        ("DELETE FROM privacy_consentrecord WHERE id = %s", [consent_log[-1].pk]),
        ("UPDATE privacy_consenthead SET entries = 3, head_hash = %s WHERE company_id = %s",
         [consent_log[-2].hash, tenant_a.company.pk]))
    code, output = _run("consent_verify")
    assert code == 1 and "not signed with our key" in output


@pytest.mark.superuser_attacker
def test_a_checkpoint_catches_a_rollback_to_an_older_genuine_head(tenant_a, consent_log, caplog):
    old_head = ConsentHead.objects.for_company(tenant_a.company).get()
    consent_for(tenant_a.member)  # consents again: a fifth record
    with caplog.at_level(logging.INFO, logger="likeness.audit"):
        assert consent_checkpoint() == 1
    assert consent_checkpoint() == 0  # nothing moved since
    assert "entries=5" in caplog.text  # the copy outside the database
    checkpoint = ConsentCheckpoint.objects.for_company(tenant_a.company).get()
    assert checkpoint.entries == 5
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            ConsentCheckpoint.objects.for_company(tenant_a.company).delete()
    # Roll the log and its head back to an earlier, genuinely signed state.
    newest = ConsentRecord.objects.for_company(tenant_a.company).order_by("-pk").first()
    _rolled_back("privacy_consentrecord", newest, "privacy_consenthead", old_head)
    code, output = _run("consent_verify")
    assert code == 1 and "checkpoint counted 5" in output


@pytest.mark.superuser_attacker
def test_other_companies_verify_clean_when_one_is_tampered(tenant_a, tenant_b, consent_log):
    consent_for(tenant_b.member)
    _behind_the_back(("DELETE FROM privacy_consentrecord WHERE id = %s", [consent_log[-1].pk]))
    assert "bravo" not in _run("consent_verify")[1]


# --- The credit ledger ------------------------------------------------------------------


@pytest.fixture
def ledger(tenant_a):
    for amount in (10, -2, 5):
        credits_adjust(company=tenant_a.company, amount=amount, reason="test", actor=None)
    entries = list(CreditEntry.objects.for_company(tenant_a.company).order_by("pk"))
    assert _run("ledger_verify") == (0, "")
    return entries


def test_each_entry_moves_the_ledger_head(tenant_a, ledger):
    head = LedgerHead.objects.for_company(tenant_a.company).get()
    expected = GENESIS
    for entry in ledger:
        expected = ledger_entry_hash(expected, entry)
    assert (head.entries, head.head_hash) == (3, expected)


@pytest.mark.superuser_attacker
def test_deleting_the_newest_ledger_entry_is_detected(tenant_a, ledger):
    _newest_deleted_is_detected("billing_creditentry", ledger[-1], "ledger_verify", left=2)


@pytest.mark.superuser_attacker
def test_altering_an_old_ledger_entry_is_detected(tenant_a, ledger):
    _behind_the_back(("UPDATE billing_creditentry SET amount = 1000 WHERE id = %s",
                      [ledger[0].pk]))
    assert _run("ledger_verify")[0] == 1


@pytest.mark.superuser_attacker
def test_truncating_the_ledger_is_refused_and_detected(tenant_a, ledger):
    _truncate_refused("billing_creditentry", "billing_ledgerhead", "billing_ledgercheckpoint")
    _behind_the_back(("TRUNCATE billing_creditentry", []))
    code, output = _run("ledger_verify")
    assert code == 1 and "0 entries" in output


@pytest.mark.superuser_attacker
def test_ledger_checkpoints_catch_a_rollback(tenant_a, ledger):
    old_head = LedgerHead.objects.for_company(tenant_a.company).get()
    credits_adjust(company=tenant_a.company, amount=1, reason="later", actor=None)
    assert ledger_checkpoint() == 1
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            LedgerCheckpoint.objects.for_company(tenant_a.company).update(entries=1)
    newest = CreditEntry.objects.for_company(tenant_a.company).order_by("-pk").first()
    _rolled_back("billing_creditentry", newest, "billing_ledgerhead", old_head)
    code, output = _run("ledger_verify")
    assert code == 1 and "checkpoint counted 4" in output
