"""A new kind of stored file needs one storage-key entry (core/storage.py) and one
registration (privacy/registry.py): from then on the retention sweeper, erasure and a
person's copy of their data reach it, with no change to the privacy app.

The kind here is made up for the test (voice notes, files only, no table), registered and
unregistered around each test as an app would register it in its AppConfig.ready()."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from core.storage import MEMBERSHIP, FileArea, file_area_register, file_area_unregister
from privacy.deletion import receipt_write
from privacy.dsr import export_zip
from privacy.models import DeletionReceipt
from privacy.registry import (
    PersonalData,
    RetentionRule,
    personal_data_register,
    personal_data_unregister,
)
from privacy.storage import modified_at, storage_delete, storage_walk
from privacy.sweeper import overdue_count, retention_sweep
from teams.models import Company, Membership

VOICE_NOTES = FileArea("voice-notes", MEMBERSHIP)


def _notes_of(company: Company, membership: Membership) -> list[str]:
    return list(storage_walk(VOICE_NOTES.folder(company_id=company.pk, owner_id=membership.pk)))


def _delete(key: str, rule: str, subject_user_id: int | None = None) -> None:
    company_id, membership_id = VOICE_NOTES.owner_of(key)
    storage_delete(key)
    receipt_write(company_id=company_id, kind="voice_note", object_ref=f"file:{key}",
                  subject_user_id=subject_user_id, rule=rule, keys=[key])


def _due(company: Company, cutoff: datetime) -> list[str]:
    return [key for key in storage_walk(VOICE_NOTES.company_folder(company_id=company.pk))
            if (modified_at(key) or cutoff) <= cutoff]


def _known(company_id: int) -> set[str]:
    people = Membership.objects.for_company(company_id).values_list("pk", flat=True)
    return {key for pk in people for key in storage_walk(
        VOICE_NOTES.folder(company_id=company_id, owner_id=pk))}


def _export(company: Company, membership: Membership, archive) -> None:
    archive.data["voice_notes"] = []
    for n, key in enumerate(_notes_of(company, membership), start=1):
        archive.add_file(f"voice-notes/note-{n}.ogg", key)
        archive.data["voice_notes"].append({"file": f"voice-notes/note-{n}.ogg"})


@pytest.fixture
def voice_notes(local_backend):
    file_area_register(VOICE_NOTES)
    personal_data_register(PersonalData(
        kind="voice_note", files=VOICE_NOTES, of_person=_notes_of, erase=_delete,
        export=_export, known_keys=_known,
        rules=(RetentionRule("voice_notes", "selfies_max_hours", _due, _delete),)))
    yield
    personal_data_unregister("voice_note")
    file_area_unregister(VOICE_NOTES)


def _note(membership: Membership) -> str:
    return default_storage.save(
        VOICE_NOTES.key(company_id=membership.company_id, owner_id=membership.pk,
                        name="hello.ogg"), ContentFile(b"OggS voice"))


def _receipts(company: Company) -> list[tuple[str, str]]:
    return list(DeletionReceipt.objects.for_company(company).filter(kind="voice_note")
                .values_list("kind", "rule"))


def test_the_sweeper_deletes_the_new_kind_when_its_clock_runs_out(tenant_a, voice_notes):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        key = _note(tenant_a.member)
        clock.shift(timedelta(days=29))
        retention_sweep()
        assert default_storage.exists(key)
        clock.shift(timedelta(days=1, hours=1))
        assert overdue_count() == {"voice_notes": 1}
        retention_sweep()
        assert not default_storage.exists(key)
        assert overdue_count() == {}
    assert _receipts(tenant_a.company) == [("voice_note", "retention.voice_notes")]


def test_a_leaver_is_erased_from_the_new_kind_and_a_colleague_is_not(tenant_a, voice_notes):
    leaver, colleague = _note(tenant_a.member), _note(tenant_a.admin)
    response = tenant_a.client_for(tenant_a.owner).post(
        f"/c/alpha/admin/people/{tenant_a.member.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 302
    assert not default_storage.exists(leaver)
    assert default_storage.exists(colleague)
    assert _receipts(tenant_a.company) == [("voice_note", "erasure.member_removed")]


def test_a_copy_of_my_data_holds_the_new_kind(tenant_a, voice_notes):
    _note(tenant_a.member)
    _note(tenant_a.admin)  # a colleague's note stays out of the member's copy
    archive = zipfile.ZipFile(io.BytesIO(export_zip(company=tenant_a.company,
                                                    membership=tenant_a.member)))
    assert "voice-notes/note-1.ogg" in archive.namelist()
    assert archive.read("voice-notes/note-1.ogg") == b"OggS voice"
    data = json.loads(archive.read("data.json"))
    assert data["voice_notes"] == [{"file": "voice-notes/note-1.ogg"}]


def test_a_file_of_the_new_kind_that_no_one_accounts_for_is_an_orphan(tenant_a, voice_notes):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        stray = default_storage.save(VOICE_NOTES.key(company_id=tenant_a.company.pk,
                                                     owner_id=999999, name="x.ogg"),
                                     ContentFile(b"no such person"))
        mine = _note(tenant_a.member)
        clock.shift(timedelta(hours=2))  # past the grace for files still being committed
        assert retention_sweep().deleted["files.orphan"] == 1
    assert not default_storage.exists(stray) and default_storage.exists(mine)
