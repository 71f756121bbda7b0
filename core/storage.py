"""Where every kind of file lives in storage: the one place that spells a key.

Every key is ``<area>/c<company id>/<owner><owner id>/<name>``: the area says what kind of file
it is, ``c<id>`` whose company, and the owner folder whose it is: a person (``m<membership
id>``) or a job (``j<job id>``). The privacy worker relies on that shape: erasure empties a
person's folders, the sweeper walks each area's company folders and deletes what no row
accounts for, and the S3 lifecycle backstop (platform/s3-lifecycle.json) names the areas.

A new kind of file is one entry here (a ``FileArea``, and a key function if its names are
not the usual ones) and one privacy registration (privacy/registry.py) in its app's
``AppConfig.ready()``: from then on it is swept, erased and exported with everything else.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

MEMBERSHIP = "m"  # files of one person in one company
JOB = "j"  # files of one generation job


@dataclass(frozen=True)
class FileArea:
    area: str  # the key's first part, e.g. "selfies"
    owner: str  # MEMBERSHIP or JOB

    def company_folder(self, *, company_id: int) -> str:
        return f"{self.area}/c{company_id}"

    def folder(self, *, company_id: int, owner_id: int) -> str:
        return f"{self.company_folder(company_id=company_id)}/{self.owner}{owner_id}"

    def key(self, *, company_id: int, owner_id: int, name: str) -> str:
        return f"{self.folder(company_id=company_id, owner_id=owner_id)}/{name}"

    def owner_of(self, key: str) -> tuple[int, int] | None:
        """(company id, owner id) of a key in this area, or None if it has another shape."""
        match = re.match(rf"^{re.escape(self.area)}/c(\d+)/{self.owner}(\d+)/", key)
        return (int(match.group(1)), int(match.group(2))) if match else None


SELFIES = FileArea("selfies", MEMBERSHIP)  # normalised selfies and their thumbnails
CANDIDATES = FileArea("candidates", JOB)  # generated photos (a headshot is one of them)
LORA = FileArea("lora", JOB)  # a person's trained model and its training checkpoint
EXPORTS = FileArea("exports", MEMBERSHIP)  # copies of a person's data they asked for

_areas: dict[str, FileArea] = {a.area: a for a in (SELFIES, CANDIDATES, LORA, EXPORTS)}


def file_area_register(area: FileArea) -> FileArea:
    """Add a kind of file (the entries above are registered already)."""
    known = _areas.get(area.area)
    if known is not None and known != area:
        raise ValueError(f"storage area {area.area!r} is registered with another owner")
    _areas[area.area] = area
    return area


def file_area_unregister(area: FileArea) -> None:
    _areas.pop(area.area, None)


def file_areas() -> tuple[FileArea, ...]:
    return tuple(_areas.values())


def _fresh() -> str:
    return uuid.uuid4().hex


def selfie_keys(*, company_id: int, membership_id: int) -> tuple[str, str]:
    """A new selfie's (image, thumbnail) keys."""
    base = SELFIES.key(company_id=company_id, owner_id=membership_id, name=_fresh())
    return f"{base}.jpg", f"{base}_thumb.jpg"


def candidate_keys(*, company_id: int, job_id: int, seed: int, output_index: int
                   ) -> tuple[str, str]:
    """A generated photo's (image, thumbnail) keys."""
    base = CANDIDATES.key(company_id=company_id, owner_id=job_id,
                          name=f"{seed}-{output_index}-{_fresh()[:8]}")
    return f"{base}.jpg", f"{base}_thumb.jpg"


def lora_folder(*, company_id: int, job_id: int) -> str:
    return LORA.folder(company_id=company_id, owner_id=job_id)


def lora_weights_key(folder: str) -> str:
    """The trained weights in a LoRA folder (the job's, or a benchmark's own)."""
    return f"{folder}/lora.safetensors"


def lora_checkpoint_key(folder: str) -> str:
    """The training checkpoint a killed job resumes from."""
    return f"{folder}/checkpoint.pt"


def export_key(*, company_id: int, membership_id: int) -> str:
    """A new copy of a person's data (a ZIP)."""
    return EXPORTS.key(company_id=company_id, owner_id=membership_id, name=f"{_fresh()}.zip")
