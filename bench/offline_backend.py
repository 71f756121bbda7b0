"""Time per image of the offline backend (studio retouch), as a job runs it.

    .venv/bin/python bench/offline_backend.py [--runs N] [--size PX] [--faces a.jpg,b.jpg]

Each portrait from ../shared/faces is first normalised the way an upload is (stored
selfies are at most SELFIE_LONG_SIDE px), then retouched into every preset look at the
looks' default output size (1024 px long side), with a different seed per run. Prints
the first call (it loads the segmentation model) apart, then median and p95 per face
and over all images, in wall-clock and in CPU time of this process (steadier on a
shared machine), and the machine's load average before and after. Needs no database;
see bench/README.md.

``--baseline DIR``: also time the ``studio_retouch`` of another checkout (e.g. a
``git worktree`` of the commit before a change), interleaved image by image with this
one so that both see the same machine load.

A job finds each selfie's face and edges once (``finish_subject``) for all its seeds:
``[this, subject known]`` times the retouch given them, interleaved with the others, and
the time of ``finish_subject`` itself is printed apart (a job pays it once per selfie).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "faces"
if not FACES.is_dir():  # a worktree beside the checkout
    FACES = Path("/work/shared/faces")

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

import io  # noqa: E402

from PIL import Image  # noqa: E402

from generation.backends.offline import finish_subject, studio_retouch  # noqa: E402
from generation.intake.decode import image_normalise  # noqa: E402
from generation.looks import PRESETS, LookSpec, look_spec_example  # noqa: E402


def _selfie(name: str) -> Image.Image:
    normalised = image_normalise((FACES / name).read_bytes())
    image = Image.open(io.BytesIO(normalised.jpeg))
    image.load()
    return image.convert("RGB")


def _baseline(path: str):
    """``studio_retouch`` of another checkout, imported under its own package names."""
    root = Path(path).resolve()
    code = (root / "generation" / "backends" / "offline.py").read_text()
    saved = {k: v for k, v in sys.modules.items() if k == "generation" or
             k.startswith("generation.")}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("generation.backends.offline")
    finally:
        sys.path.remove(str(root))
        for name in [k for k in sys.modules if k == "generation" or k.startswith("generation.")]:
            sys.modules[f"baseline.{name}"] = sys.modules.pop(name)
        sys.modules.update(saved)
    assert "def studio_retouch" in code
    return module.studio_retouch


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:7.0f} / {p95 * 1000:7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="seeds per face and look")
    parser.add_argument("--size", type=int, default=1024, help="output long side, px")
    parser.add_argument("--faces", default="obama.jpg,obama2.jpg,biden.jpg")
    parser.add_argument("--baseline", default="", help="another checkout to time alongside")
    args = parser.parse_args()

    names = [n for n in args.faces.split(",") if n]
    selfies = {name: _selfie(name) for name in names}
    looks = {key: look_spec_example(key, output_size=args.size) for key in PRESETS}
    load_before = os.getloadavg()
    subject_wall, subject_cpu, subjects = [], [], {}
    for name, selfie in selfies.items():
        finish_subject(selfie)  # the first call loads the models
        started, used = time.perf_counter(), time.process_time()
        subjects[name] = finish_subject(selfie)
        subject_wall.append(time.perf_counter() - started)
        subject_cpu.append(time.process_time() - used)

    # Each variant renders (selfie name, look, seed).
    variants: dict[str, Callable[[str, LookSpec, int], object]] = {
        "this": lambda name, look, seed: studio_retouch(selfies[name], look=look, seed=seed)}
    if args.baseline:
        baseline = _baseline(args.baseline)
        variants["baseline"] = lambda name, look, seed: baseline(selfies[name], look=look,
                                                                 seed=seed)
    variants["this, subject known"] = lambda name, look, seed: studio_retouch(
        selfies[name], look=look, seed=seed, subject=subjects[name])

    first = {}
    for label, retouch in variants.items():
        started = time.perf_counter()
        retouch(names[0], looks["corporate"], 0)
        first[label] = time.perf_counter() - started

    wall: dict[str, dict[str, list[float]]] = {v: {n: [] for n in names} for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    for run in range(args.runs):
        for name in selfies:
            for look in looks.values():
                for label, retouch in variants.items():
                    started, used = time.perf_counter(), time.process_time()
                    retouch(name, look, 1000 + run)
                    wall[label][name].append(time.perf_counter() - started)
                    cpu[label].append(time.process_time() - used)

    print(f"offline backend: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} "
          "(1 min; this machine's other work competes for the same cores)")
    print(f"output long side {args.size} px, {len(looks)} looks x {args.runs} seeds per face")
    for label in variants:
        print(f"\n[{label}] first call (loads the segmentation model): "
              f"{first[label] * 1000:.0f} ms")
        print(f"{'selfie':<16}{'input':>12}  {'median / p95 ms':>17}")
        everything: list[float] = []
        for name, values in wall[label].items():
            width, height = selfies[name].size
            print(f"{name:<16}{f'{width}x{height}':>12}  {_ms(values)}")
            everything += values
        print(f"{'all (wall)':<16}{len(everything):>10} x  {_ms(everything)}")
        print(f"{'all (CPU)':<16}{len(cpu[label]):>10} x  {_ms(cpu[label])}")
        print(f"slowest: {max(everything) * 1000:.0f} ms")
    print(f"\nfinish_subject (face and edges; a job: once per selfie): median "
          f"{statistics.median(subject_wall) * 1000:.0f} ms wall, "
          f"{statistics.median(subject_cpu) * 1000:.0f} ms CPU")


if __name__ == "__main__":
    main()
