"""Time per image of the offline backend (studio retouch), as a job runs it.

    .venv/bin/python bench/offline_backend.py [--runs N] [--size PX] [--faces a.jpg,b.jpg]

Each portrait from ../shared/faces is first normalised the way an upload is (stored
selfies are at most SELFIE_LONG_SIDE px), then retouched into every preset look at the
looks' default output size (1024 px long side), with a different seed per run. Prints
the first call (it loads the segmentation model) apart, then median and p95 per face
and over all images. Needs no database; see bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "faces"

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

import io  # noqa: E402

from PIL import Image  # noqa: E402

from generation.backends.offline import studio_retouch  # noqa: E402
from generation.intake.decode import image_normalise  # noqa: E402
from generation.looks import PRESETS, look_spec_example  # noqa: E402


def _selfie(name: str) -> Image.Image:
    normalised = image_normalise((FACES / name).read_bytes())
    image = Image.open(io.BytesIO(normalised.jpeg))
    image.load()
    return image.convert("RGB")


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:7.0f} / {p95 * 1000:7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="seeds per face and look")
    parser.add_argument("--size", type=int, default=1024, help="output long side, px")
    parser.add_argument("--faces", default="obama.jpg,obama2.jpg,biden.jpg")
    args = parser.parse_args()

    names = [n for n in args.faces.split(",") if n]
    selfies = {name: _selfie(name) for name in names}
    looks = {key: look_spec_example(key, output_size=args.size) for key in PRESETS}

    first_name = names[0]
    started = time.perf_counter()
    studio_retouch(selfies[first_name], look=looks["corporate"], seed=0)
    first = time.perf_counter() - started

    per_face: dict[str, list[float]] = {name: [] for name in names}
    for run in range(args.runs):
        for name, selfie in selfies.items():
            for look in looks.values():
                started = time.perf_counter()
                studio_retouch(selfie, look=look, seed=1000 + run)
                per_face[name].append(time.perf_counter() - started)

    print(f"offline backend: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"output long side {args.size} px, {len(looks)} looks x {args.runs} seeds per face")
    print(f"first call (loads the segmentation model): {first * 1000:.0f} ms")
    print(f"{'selfie':<16}{'input':>12}  {'median / p95 ms':>17}")
    everything: list[float] = []
    for name, values in per_face.items():
        width, height = selfies[name].size
        print(f"{name:<16}{f'{width}x{height}':>12}  {_ms(values)}")
        everything += values
    print(f"{'all':<16}{len(everything):>10} x  {_ms(everything)}")
    print(f"slowest: {max(everything) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
