"""The GPU worker's base model on its persistent volume: a hash manifest, verified before the
worker starts, and fetched from a configured mirror when that is allowed.

``likeness-manifest.json`` at the top of the model folder lists every file the model needs
with its size and SHA-256. Whoever approves a base model writes it once
(``manage.py gpu_model manifest``) and may pin the manifest's own SHA-256 in
``GPU_BASE_MODEL_MANIFEST_SHA256``, so a volume or a mirror cannot swap the model unnoticed.

A fetch copies from ``GPU_BASE_MODEL_SOURCE``: a folder (an air-gapped cluster mounts or
copies the model there, see platform/README.md), a ``file://`` URL or an ``http(s)://``
mirror that serves the folder's files under the same relative paths. Each file is written
beside its final name and renamed only once its hash matches: a fetch killed half-way
leaves no file that verifies by accident, and a second fetch resumes by skipping the
files already right. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

MANIFEST = "likeness-manifest.json"
CHUNK = 1 << 20
# Files that are never part of the model (caches, editor litter).
IGNORED = (".cache", ".git", ".DS_Store", ".partial")


class ModelFilesError(Exception):
    """The model folder, its manifest or its source is not as it must be; says what to do."""


@dataclass(frozen=True)
class Verified:
    files: int
    bytes: int
    manifest_sha256: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _model_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
                  and not any(part in IGNORED or part.endswith(".partial")
                              for part in p.relative_to(folder).parts))


def manifest_write(folder: Path) -> Path:
    """Hash every file of ``folder`` into its manifest (done once per approved model)."""
    if not folder.is_dir():
        raise ModelFilesError(f"{folder} is not a folder.")
    files = {str(p.relative_to(folder).as_posix()): {"size": p.stat().st_size,
                                                     "sha256": sha256_file(p)}
             for p in _model_files(folder)}
    if not files:
        raise ModelFilesError(f"{folder} holds no files to list.")
    path = folder / MANIFEST
    path.write_text(json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True) + "\n")
    return path


def _manifest_parse(raw: bytes, *, pinned: str, where: str) -> dict[str, dict]:
    digest = hashlib.sha256(raw).hexdigest()
    if pinned and digest != pinned.lower():
        raise ModelFilesError(
            f"The manifest at {where} has SHA-256 {digest}, not the pinned "
            f"GPU_BASE_MODEL_MANIFEST_SHA256 {pinned}: this is not the approved model.")
    try:
        files = json.loads(raw)["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFilesError(f"The manifest at {where} is not a Likeness manifest.") from exc
    for name, entry in files.items():
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not isinstance(entry, dict):
            raise ModelFilesError(f"The manifest at {where} names {name!r}: refused.")
    return files


def model_verify(folder: Path, *, pinned: str = "") -> Verified:
    """Every file of the manifest is present with its size and hash; raises ModelFilesError."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelFilesError(
            f"{folder} has no {MANIFEST}: fetch the model (manage.py gpu_model fetch) or copy "
            "it there with its manifest (platform/README.md, air-gapped clusters).")
    raw = path.read_bytes()
    files = _manifest_parse(raw, pinned=pinned, where=str(path))
    problems, total = [], 0
    for name, entry in sorted(files.items()):
        file = folder / name
        if not file.is_file():
            problems.append(f"{name}: missing")
        elif file.stat().st_size != entry["size"]:
            problems.append(f"{name}: {file.stat().st_size} bytes, expected {entry['size']}")
        elif sha256_file(file) != entry["sha256"]:
            problems.append(f"{name}: SHA-256 differs")
        total += int(entry["size"])
    if problems:
        raise ModelFilesError(f"The model in {folder} does not match its manifest: "
                              + "; ".join(problems[:10]))
    return Verified(files=len(files), bytes=total, manifest_sha256=hashlib.sha256(raw).hexdigest())


def _read_source(source: str, name: str, target: Path | None = None) -> bytes | None:
    """``name`` from the source: returned, or streamed into ``target`` when given."""
    if source.startswith(("http://", "https://")):
        url = source.rstrip("/") + "/" + urllib.parse.quote(name)
        try:
            with httpx.stream("GET", url, timeout=httpx.Timeout(30.0, read=300.0),
                              follow_redirects=True) as response:
                if response.status_code != 200:
                    raise ModelFilesError(f"{url} answered {response.status_code}.")
                if target is None:
                    return response.read()
                with target.open("wb") as handle:
                    for chunk in response.iter_bytes(CHUNK):
                        handle.write(chunk)
                return None
        except httpx.HTTPError as exc:
            raise ModelFilesError(f"Could not read {url}: {exc!r}") from exc
    root = Path(urllib.parse.urlsplit(source).path if source.startswith("file://") else source)
    path = root / name
    if not path.is_file():
        raise ModelFilesError(f"{path} does not exist in GPU_BASE_MODEL_SOURCE.")
    if target is None:
        return path.read_bytes()
    shutil.copyfile(path, target)
    return None


def model_fetch(folder: Path, *, source: str, pinned: str = "") -> Verified:
    """Make ``folder`` hold the model of ``source``'s manifest; files already right are kept."""
    if not source:
        raise ModelFilesError(
            "GPU_BASE_MODEL_SOURCE is not set, so this worker may not fetch a model: copy the "
            "model into the volume (platform/README.md) and run `gpu_model verify`.")
    raw = _read_source(source, MANIFEST)
    assert raw is not None
    files = _manifest_parse(raw, pinned=pinned, where=f"{source}/{MANIFEST}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, entry in sorted(files.items()):
        final = folder / name
        if (final.is_file() and final.stat().st_size == entry["size"]
                and sha256_file(final) == entry["sha256"]):
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(final.name + ".partial")
        _read_source(source, name, partial)
        if sha256_file(partial) != entry["sha256"]:
            partial.unlink(missing_ok=True)
            raise ModelFilesError(f"{name} from {source} does not match the manifest's SHA-256.")
        os.replace(partial, final)
    # The manifest last: a folder with a manifest is a complete folder.
    (folder / MANIFEST).write_bytes(raw)
    return model_verify(folder, pinned=pinned)
