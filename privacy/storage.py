"""Storage as the privacy app sees it: walking a folder, and deleting a key on any backend
(local files, S3, in-memory) without caring whether it is still there. Where each kind of
file lives is core/storage.py's to say."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.files.storage import default_storage, storages
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from core.storage import FileArea, file_areas

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


def storage_list_folders(prefix: str) -> list[str]:
    """The names of the folders directly under a prefix; none if it does not exist."""
    try:
        return list(default_storage.listdir(prefix)[0])
    except (FileNotFoundError, NotADirectoryError):
        return []


def storage_delete_prefix(prefix: str) -> list[str]:
    """Delete every file under a prefix (cached and derived files included), in batches on
    S3; the keys."""
    keys = list(storage_walk(prefix))
    storage_delete_many(keys)
    return keys


def modified_at(key: str) -> datetime | None:
    try:
        return default_storage.get_modified_time(key)
    except (FileNotFoundError, NotImplementedError, OSError):
        return None


@dataclass(frozen=True)
class CompanyDir:
    area: FileArea
    company_id: int
    prefix: str


def company_dirs() -> Iterator[CompanyDir]:
    """Each c<id>/ folder of each storage area, whether or not the company still exists."""
    for area in file_areas():
        for name in storage_list_folders(area.area):
            match = _COMPANY_DIR.match(name)
            if match:
                yield CompanyDir(area, int(match.group(1)), f"{area.area}/{name}")
