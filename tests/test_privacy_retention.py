"""The retention sweeper, by time travel, on local files and on S3: after each sweep nothing
is older than its policy, every deletion has a receipt, and the audit command is clean."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from generation.models import Candidate, GenerationJob, Headshot, Selfie
from privacy.models import DeletionReceipt
from privacy.retention import HARD_CEILING_HOURS, PolicyInvalid, policy_validate
from privacy.services import consent_chain_verify
from privacy.storage import key_sha256
from privacy.sweeper import overdue_count, retention_sweep
from privacy.tasks import sweep

from .helpers import selfie_for
from .privacy_data import all_keys, person_data

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def receipted_hashes(company) -> set[str]:
    return {h for hashes in DeletionReceipt.objects.for_company(company).values_list(
        "key_sha256", flat=True) for h in hashes}


def audit_ok() -> bool:
    try:
        call_command("privacy_audit")
    except CommandError:
        return False
    return True


def sweep_all() -> int:
    return sweep.apply(kwargs={"limit": 3}).get()  # small chunks: the re-queue path runs


# Tests that count what the sweep finds run on a fresh folder (local_backend): the shared
# in-memory storage of the test settings holds files of earlier tests' rolled-back rows.
def test_the_sweeper_enforces_every_rule_on_both_backends(tenant_a, tenant_b, backend):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        data = person_data(tenant_a.member)
        other = person_data(tenant_b.member)  # another company, same schedule: same fate
        stray = default_storage.save(f"candidates/c{tenant_a.company.pk}/j999999/x.jpg",
                                     ContentFile(b"left by a crashed worker"))
        assert backend.keys() >= all_keys(data) | {stray}

        # At once: the LoRA weights were due on delivery, the stray file is still in grace.
        assert not audit_ok()
        sweep_all()
        assert not (set(data.lora_keys) | set(other.lora_keys)) & backend.keys()
        assert stray in backend.keys()
        assert audit_ok()

        clock.shift(HOUR + timedelta(minutes=1))  # past the grace for unknown files
        assert not audit_ok()
        sweep_all()
        assert stray not in backend.keys()
        assert audit_ok()

        clock.shift(47 * HOUR)  # 48 h after the last job: selfies and face data go
        sweep_all()
        assert not Selfie.objects.for_company(tenant_a.company).exists()
        assert not set(data.keys["selfie"]) & backend.keys()
        assert not Candidate.objects.for_company(tenant_a.company).filter(
            face_embedding__isnull=False).exists()
        assert Candidate.objects.for_company(tenant_a.company).count() == 4  # photos stay
        assert audit_ok()

        clock.shift(6 * DAY)  # 7 days after they were made: rejected and unchosen photos
        sweep_all()
        left = set(Candidate.objects.for_company(tenant_a.company).values_list("pk", flat=True))
        assert left == {data.favourite.pk, data.approved.pk}
        assert not (set(data.keys["hidden"]) | set(data.keys["unchosen"])) & backend.keys()
        assert set(data.keys["approved"]) <= backend.keys()
        assert audit_ok()

        clock.shift(365 * DAY)  # job records: the approved headshot's job is kept with it
        sweep_all()
        assert GenerationJob.objects.for_company(tenant_a.company).filter(pk=data.job.pk).exists()

        # Receipts are audit logs with their own period (3 years): note them before it ends.
        seen = {c.pk: receipted_hashes(c) for c in (tenant_a.company, tenant_b.company)}
        kinds = set(DeletionReceipt.objects.for_company(tenant_a.company).values_list(
            "kind", flat=True))
        rules = set(DeletionReceipt.objects.for_company(tenant_a.company).values_list(
            "rule", flat=True))
        assert not DeletionReceipt.objects.for_company(tenant_a.company).filter(
            subject_user_id=None).exclude(kind="orphan_file").exists()

        clock.shift(3 * 365 * DAY)  # the ceiling: even a kept headshot goes
        sweep_all()
        assert not DeletionReceipt.objects.for_company(tenant_a.company).filter(
            deleted_at__lt=timezone.now() - timedelta(days=3 * 365)).exists()
        kinds |= set(DeletionReceipt.objects.for_company(tenant_a.company).values_list(
            "kind", flat=True))
        rules |= set(DeletionReceipt.objects.for_company(tenant_a.company).values_list(
            "rule", flat=True))
        for model in (Headshot, Candidate, GenerationJob, Selfie):
            assert not model.objects.for_company(tenant_a.company).exists(), model
            assert not model.objects.for_company(tenant_b.company).exists(), model
        assert audit_ok()
        assert overdue_count() == {}

    # Every file that went has a receipt naming its key's hash, never the key.
    for company, person in ((tenant_a.company, data), (tenant_b.company, other)):
        hashes = seen[company.pk] | receipted_hashes(company)
        assert {key_sha256(k) for k in all_keys(person)} <= hashes
        assert not {k for k in all_keys(person)} & backend.keys()
        assert consent_chain_verify(company=company) == []
    assert key_sha256(stray) in seen[tenant_a.company.pk]
    assert {"selfie", "face_embedding", "candidate", "headshot", "job", "lora_weights",
            "orphan_file"} <= kinds
    assert all(rule.startswith("retention.") for rule in rules)


def test_selfies_go_at_the_latest_after_30_days_even_without_a_job(tenant_a, local_backend):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        selfie = selfie_for(tenant_a.member)
        clock.shift(29 * DAY)
        sweep_all()
        assert Selfie.objects.for_company(tenant_a.company).filter(pk=selfie.pk).exists()
        clock.shift(DAY + HOUR)
        assert overdue_count() == {"selfies.max_age": 1}
        sweep_all()
        assert not Selfie.objects.for_company(tenant_a.company).exists()
        assert not default_storage.exists(selfie.image_key)
        receipt = DeletionReceipt.objects.for_company(tenant_a.company).get(kind="selfie")
        assert receipt.rule == "retention.selfies.max_age"
        assert receipt.subject_user_id == tenant_a.member.user_id
        assert receipt.key_sha256 == [key_sha256(selfie.image_key), key_sha256(selfie.thumb_key)]


def test_a_selfie_uploaded_for_the_next_job_is_not_swept_with_the_last_one(tenant_a, local_backend):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        data = person_data(tenant_a.member)
        clock.shift(DAY)
        newer = selfie_for(tenant_a.member, data=_other_image())
        clock.shift(25 * HOUR)  # 49 h after the job, 25 h after the new upload
        sweep_all()
        remaining = set(Selfie.objects.for_company(tenant_a.company).values_list("pk", flat=True))
        assert remaining == {newer.pk}
        assert data.selfie.pk not in remaining


def _other_image() -> bytes:
    from .helpers import image_bytes

    return image_bytes(color=(10, 200, 30))


def test_company_policy_shortens_a_rule_and_the_sweep_follows(tenant_a, tenant_b, local_backend):
    from privacy.services import retention_policy_update

    retention_policy_update(company=tenant_a.company, actor=tenant_a.owner,
                            values={"unchosen_candidates_hours": 24})
    with time_machine.travel(timezone.now(), tick=False) as clock:
        mine, theirs = person_data(tenant_a.member), person_data(tenant_b.member)
        clock.shift(25 * HOUR)
        sweep_all()
        assert not Candidate.objects.for_company(tenant_a.company).filter(
            pk=mine.unchosen.pk).exists()
        assert Candidate.objects.for_company(tenant_b.company).filter(
            pk=theirs.unchosen.pk).exists()


@pytest.mark.parametrize("values, message", [
    ({"job_records_hours": HARD_CEILING_HOURS + 1}, "3 years"),
    ({"selfies_max_hours": 721}, "30 days"),
    ({"selfies_after_last_job_hours": 100, "selfies_max_hours": 50}, "cannot be longer"),
    ({"exports_hours": -1}, "negative"),
    ({"selfies_max_hours": None}, "required"),
])
def test_no_setting_passes_the_ceiling_or_the_selfie_limit(values, message):
    with pytest.raises(PolicyInvalid, match=message):
        policy_validate(values)


def test_sweeping_again_deletes_nothing_and_receipts_nothing_twice(tenant_a, local_backend):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        person_data(tenant_a.member)
        clock.shift(8 * DAY)
        first = sweep_all()
        receipts = DeletionReceipt.objects.for_company(tenant_a.company).count()
        assert first > 0 and receipts > 0
        assert sweep_all() == 0
        assert DeletionReceipt.objects.for_company(tenant_a.company).count() == receipts


def test_a_sweep_works_in_bounded_chunks(tenant_a, local_backend):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(5):
            selfie_for(tenant_a.member, data=_coloured(n))
        clock.shift(31 * DAY)
        first = retention_sweep(limit=2)
        assert first.total == 2 and first.more
        assert Selfie.objects.for_company(tenant_a.company).count() == 3
        assert sweep.apply(kwargs={"limit": 2}).get() == 3  # re-queues itself until done
        assert not Selfie.objects.for_company(tenant_a.company).exists()


def _coloured(n: int) -> bytes:
    from .helpers import image_bytes

    return image_bytes(color=(20 * n, 100, 200 - 20 * n))


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweepers_never_take_the_same_row(tenant_a, local_backend):
    """A row locked by one sweeper is skipped by another (SKIP LOCKED), then swept later."""
    assert connection.vendor == "postgresql"
    with time_machine.travel(timezone.now(), tick=False) as clock:
        selfies = [selfie_for(tenant_a.member, data=_coloured(n)) for n in range(3)]
        clock.shift(31 * DAY)
        locked, release = threading.Event(), threading.Event()

        def hold_first_row() -> None:
            with transaction.atomic():
                Selfie.objects.for_company(tenant_a.company).select_for_update().get(
                    pk=selfies[0].pk)
                locked.set()
                release.wait(10)
            connection.close()

        holder = threading.Thread(target=hold_first_row)
        holder.start()
        assert locked.wait(10)
        try:
            result = retention_sweep(limit=10)
        finally:
            release.set()
            holder.join()
        assert result.deleted["selfies.max_age"] == 2
        assert list(Selfie.objects.for_company(tenant_a.company).values_list(
            "pk", flat=True)) == [selfies[0].pk]
        assert retention_sweep(limit=10).deleted["selfies.max_age"] == 1
        assert DeletionReceipt.objects.for_company(tenant_a.company).filter(
            kind="selfie").count() == 3


def test_the_audit_names_unknown_files_and_overdue_rows_and_fails(tenant_a, local_backend, capsys):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        selfie_for(tenant_a.member)
        default_storage.save(f"selfies/c{tenant_a.company.pk}/m0/unknown.jpg",
                             ContentFile(b"x"))
        clock.shift(31 * DAY)
        with pytest.raises(CommandError, match="2 finding"):
            call_command("privacy_audit")
        err = capsys.readouterr().err
        assert "unknown" in err and "selfies.max_age" in err
        assert "unknown.jpg" not in err  # keys are hashed in the report, like receipts
        call_command("privacy_sweep")
        call_command("privacy_audit")
        assert "clean" in capsys.readouterr().out
