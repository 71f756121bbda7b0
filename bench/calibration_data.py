"""The real portraits the calibration benchmarks use, read in place (never copied).

``../shared/identities/<person>/*`` (nine public figures, one face per file, five with two
photographs), ``../shared/faces`` (Barack Obama: obama.jpg and obama2.jpg, two shots; Joe
Biden: biden.jpg; obama_small.jpg is a crop of obama.jpg and two_people.jpg a group photo,
both left out here) and Eileen Collins' NASA portrait inside scikit-image (when installed):
twelve identities, eighteen photographs, six people with two. Every photograph is a
distinct shot.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = next((d for d in (ROOT.parent / "shared", Path("/work/shared")) if d.is_dir()),
              ROOT.parent / "shared")

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from PIL import Image, ImageOps  # noqa: E402

FACES_FILES = {"Barack Obama": ["obama.jpg", "obama2.jpg"], "Joe Biden": ["biden.jpg"]}


@dataclass(frozen=True)
class Photo:
    person: str
    name: str  # e.g. "marissa_mayer/02.jpg"
    image: Image.Image


def load_people(shared: Path = SHARED) -> tuple[dict[str, list[Photo]], list[str]]:
    """Photos by person, and notes on what was not found."""
    people: dict[str, list[Photo]] = {}
    notes: list[str] = []
    identities = shared / "identities"
    if identities.is_dir():
        for folder in sorted(p for p in identities.iterdir() if p.is_dir()):
            person = folder.name.replace("_", " ").title()
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
                    people.setdefault(person, []).append(
                        Photo(person, f"{folder.name}/{path.name}", _open(path)))
    else:
        notes.append(f"{identities} not found")
    for person, names in FACES_FILES.items():
        for name in names:
            path = shared / "faces" / name
            if path.is_file():
                people.setdefault(person, []).append(Photo(person, f"faces/{name}", _open(path)))
            else:
                notes.append(f"{path} not found")
    try:
        from skimage import data
    except ImportError:
        notes.append("scikit-image not installed: Eileen Collins left out")
    else:
        people["Eileen Collins"] = [Photo("Eileen Collins", "skimage astronaut()",
                                          Image.fromarray(data.astronaut()).convert("RGB"))]
    return people, notes


def _open(path: Path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def machine() -> str:
    import platform

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, load average {load:.1f}")
