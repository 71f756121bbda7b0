"""On S3, files other than selfies are deleted in batches too: one DeleteObjects request per
up to 1,000 keys, never a DeleteObject per file (generated photos, headshots, LoRA weights,
stray and orphaned files), by the retention sweeper and by erasure (moto's S3 server)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.utils import timezone

from generation.models import Candidate
from privacy.erasure import RULE_LEAVER, person_erase
from privacy.sweeper import retention_sweep

from .privacy_data import all_keys, person_data
from .storage_backends import Backend


def _count_s3_calls() -> Counter:
    """Counts every S3 operation the default storage's client makes from now on."""
    calls: Counter = Counter()
    client = storages["default"].connection.meta.client
    client.meta.events.register("before-call.s3",
                                lambda model, **_: calls.update([model.name]))
    return calls


def test_erasure_deletes_a_persons_files_in_batches(tenant_a, s3_backend, request):
    backend = Backend("s3", request)
    data = person_data(tenant_a.member)
    stray = [default_storage.save(f"candidates/c{tenant_a.company.pk}/j{data.job.pk}/late-{n}.jpg",
                                  ContentFile(b"x")) for n in range(5)]
    calls = _count_s3_calls()
    person_erase(company=tenant_a.company, membership=tenant_a.member, rule=RULE_LEAVER)
    assert not (all_keys(data) | set(stray)) & backend.keys()
    assert calls["DeleteObject"] == 0, calls
    # 17 files in one request per kind: the headshot's photo (sent again as its candidate
    # goes), the selfie, the three other photos at once, the LoRA folder, the late files.
    assert 0 < calls["DeleteObjects"] <= 6, calls


def test_sweeper_deletes_generated_photos_and_orphans_in_batches(tenant_a, s3_backend, request):
    backend = Backend("s3", request)
    data = person_data(tenant_a.member)
    orphans = [default_storage.save(f"candidates/c{tenant_a.company.pk}/j999/{n}.jpg",
                                    ContentFile(b"x")) for n in range(30)]
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        calls = _count_s3_calls()
        while retention_sweep(limit=1000).more:
            pass
    gone = set(data.keys["hidden"]) | set(data.keys["unchosen"]) | set(orphans)
    assert not gone & backend.keys()
    assert set(data.keys["approved"]) <= backend.keys()
    assert not Candidate.objects.for_company(tenant_a.company).filter(
        pk__in=[data.hidden.pk, data.unchosen.pk]).exists()
    assert calls["DeleteObject"] == 0, calls
    assert 0 < calls["DeleteObjects"] <= 6, calls
