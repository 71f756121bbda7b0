"""Storage as the privacy app sees it: where each kind of file lives, walking a prefix, and
deleting a key on any backend (local files, S3, in-memory) without caring whether it is
still there."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.files.storage import default_storage, storages
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# Every file the platform writes lives under one of these, then c<company id>/.
# generation/services/selfies.py, generation/services/jobs.py, generation/gpu/worker.py
# and privacy/dsr.py build the keys; the audit and the orphan sweep read them back.
MANAGED_PREFIXES = ("selfies", "candidates", "lora", "exports")
_COMPANY_DIR = re.compile(r"^c(\d+)$")


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def storage_delete(key: str) -> None:
    """Delete one key; a key that is already gone counts as deleted."""
    if not key:
        return
    try:
        default_storage.delete(key)
    except FileNotFoundError:
        pass


def storage_delete_many(keys: list[str]) -> None:
    """Delete many keys; on S3 in batches of 1,000 per request (DeleteObjects) rather than
    one request per key, which is what makes a 100,000-file sweep take seconds, not hours.
    django-storages has no bulk delete, so this reaches for its boto3 bucket."""
    keys = [key for key in keys if key]
    storage = storages["default"]
    if not isinstance(storage, S3Storage):
        for key in keys:
            storage_delete(key)
        return
    bucket = storage.bucket
    for start in range(0, len(keys), 1000):
        chunk = keys[start:start + 1000]
        answer = bucket.delete_objects(Delete={
            "Objects": [{"Key": storage._normalize_name(clean_name(key))}
                        for key in chunk], "Quiet": True})
        errors = [e for e in answer.get("Errors", []) if e.get("Code") != "NoSuchKey"]
        if errors:
            raise OSError(f"S3 refused to delete {len(errors)} object(s): "
                          f"{errors[0].get('Code')}")


def storage_walk(prefix: str) -> Iterator[str]:
    """Every file key under a "directory" prefix, depth first; nothing if it does not exist."""
    try:
        directories, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        yield f"{prefix}/{name}"
    for name in directories:
        yield from storage_walk(f"{prefix}/{name}")


def storage_delete_prefix(prefix: str) -> list[str]:
    """Delete every file under a prefix (cached and derived files included); the keys."""
    keys = list(storage_walk(prefix))
    for key in keys:
        storage_delete(key)
    return keys


def modified_at(key: str) -> datetime | None:
    try:
        return default_storage.get_modified_time(key)
    except (FileNotFoundError, NotImplementedError, OSError):
        return None


@dataclass(frozen=True)
class CompanyDir:
    area: str  # one of MANAGED_PREFIXES
    company_id: int
    prefix: str


def company_dirs() -> Iterator[CompanyDir]:
    """Each c<id>/ folder under each managed prefix, whether or not the company still exists."""
    for area in MANAGED_PREFIXES:
        try:
            directories, _files = default_storage.listdir(area)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in directories:
            match = _COMPANY_DIR.match(name)
            if match:
                yield CompanyDir(area, int(match.group(1)), f"{area}/{name}")


def selfie_prefix(*, company_id: int, membership_id: int) -> str:
    return f"selfies/c{company_id}/m{membership_id}"


def candidate_prefix(*, company_id: int, job_id: int) -> str:
    return f"candidates/c{company_id}/j{job_id}"


def lora_prefix(*, company_id: int, job_id: int) -> str:
    return f"lora/c{company_id}/j{job_id}"


def export_prefix(*, company_id: int, membership_id: int) -> str:
    return f"exports/c{company_id}/m{membership_id}"
