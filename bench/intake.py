"""Selfie intake time for a 12 MP phone photo, as HEIC and as JPEG.

    .venv/bin/python bench/intake.py [--runs N] [--cache-dir DIR] [--face NAME]

Measures the code an upload runs (generation.intake): decoding (as image_normalise
decodes: a JPEG scaled by the decoder, a HEIC on every core), the rest of normalising
(downscale to SELFIE_LONG_SIDE, orientation, colour, clean JPEG re-encode, hash) and
face QA, each separately, and the total, as median and p95 over N runs after one
warm-up run, with the CPU time next to the wall time (the machine is shared: CPU time
says what the code costs, wall time what a person waits on this machine now). Needs no
database: it sets up Django with the embedded settings only to read the intake
settings. See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared/faces beside the checkout, else the machine's shared folder (worktrees).
FACES = next((p for p in (ROOT.parent / "shared" / "faces", Path("/work/shared/faces"))
              if p.exists()), ROOT.parent / "shared" / "faces")
SIZE = (4000, 3000)  # 12 MP, a phone's main camera
JPEG_QUALITY = 92
HEIC_QUALITY = 80
TILE = 512  # an iPhone's HEIC grid tile

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

import hardware  # noqa: E402  (bench/, beside this script)
import numpy as np  # noqa: E402
import pillow_heif  # noqa: E402
from PIL import Image, ImageCms, ImageFilter  # noqa: E402

from generation.intake.decode import ALLOWED_FORMATS, _cover_size, image_normalise  # noqa: E402
from generation.intake.qa import selfie_qa  # noqa: E402
from generation.services.selfies import intake_limits  # noqa: E402


def twelve_megapixels(face: Path) -> Image.Image:
    """The portrait upscaled to fill a 4000×3000 frame, with sensor-like noise.

    The photo keeps its proportions (centred, full height) over a blurred, stretched
    copy of itself, so the face is undistorted and QA judges a real face. The noise
    gives the encoders the fine detail of a real sensor instead of smooth upscaling.
    """
    photo = Image.open(face).convert("RGB")
    frame = photo.resize(SIZE, Image.Resampling.BILINEAR).filter(ImageFilter.BoxBlur(40))
    height = SIZE[1]
    width = round(photo.width * height / photo.height)
    frame.paste(photo.resize((width, height), Image.Resampling.LANCZOS),
                ((SIZE[0] - width) // 2, 0))
    noise = np.random.default_rng(12).normal(0, 2, (SIZE[1], SIZE[0], 3))
    pixels = np.clip(np.asarray(frame, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def inputs(face: Path, cache: Path) -> dict[str, bytes]:
    """The 12 MP JPEG and HEIC, built once and kept in ``cache`` (HEIC encoding is slow).

    The HEIC is a grid of 512 px tiles, as an iPhone writes its photos (a 4032×3024 photo
    is 8×6 tiles): libheif decodes the tiles in parallel."""
    cache.mkdir(parents=True, exist_ok=True)
    stem = f"{face.stem}-{SIZE[0]}x{SIZE[1]}"
    paths = {"HEIC": cache / f"{stem}-q{HEIC_QUALITY}-grid{TILE}-heif{pillow_heif.__version__}"
                             ".heic",
             "JPEG": cache / f"{stem}-q{JPEG_QUALITY}.jpg"}
    if not all(p.exists() for p in paths.values()):
        image = twelve_megapixels(face)
        # An embedded ICC profile, as phones write (Display P3 on iPhones): intake
        # converts to sRGB, and that conversion is part of what is measured.
        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        if not paths["JPEG"].exists():
            image.save(paths["JPEG"], format="JPEG", quality=JPEG_QUALITY, icc_profile=icc)
        if not paths["HEIC"].exists():
            print(f"Encoding the 12 MP HEIC once (slow) into {paths['HEIC']} …", flush=True)
            started = time.perf_counter()
            image.info["icc_profile"] = icc
            heif = pillow_heif.from_pillow(image)
            partial = paths["HEIC"].with_suffix(".partial")
            heif.save(partial, quality=HEIC_QUALITY, tile_size=TILE)
            partial.rename(paths["HEIC"])
            print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return {name: path.read_bytes() for name, path in paths.items()}


def decode(data: bytes) -> Image.Image:
    """Decoding alone, as image_normalise does it (same allow-list of decoders; a JPEG
    scaled by libjpeg to what covers the target size)."""
    image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", _cover_size(image.size, intake_limits().long_side))
    image.load()
    return image


def _timed(call) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def one_run(data: bytes) -> dict[str, float]:
    limits = intake_limits()
    _, decode_wall, decode_cpu = _timed(lambda: decode(data))
    clean, normalise_wall, normalise_cpu = _timed(lambda: image_normalise(data, limits=limits))
    qa, qa_wall, qa_cpu = _timed(lambda: selfie_qa(clean.image))
    if not qa.accepted:
        raise SystemExit(f"QA refused the benchmark photo: {qa.reasons}")
    return {"decode": decode_wall, "normalise": normalise_wall - decode_wall, "qa": qa_wall,
            "total": normalise_wall + qa_wall,  # what an upload runs
            "decode cpu": decode_cpu, "total cpu": normalise_cpu + qa_cpu}


def machine() -> str:
    return (f"{hardware.machine()} ({len(os.sched_getaffinity(0))} usable), "
            f"load average {hardware.load_average()}")


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per format (default 5)")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/likeness-bench"),
                        help="where the 12 MP inputs are kept between runs")
    parser.add_argument("--face", default="obama.jpg", help="portrait in ../shared/faces")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    face = FACES / args.face
    if not face.exists():
        raise SystemExit(f"{face} not found: the benchmark needs ../shared/faces")

    files = inputs(face, args.cache_dir)
    limits = intake_limits()
    print(f"Selfie intake, {SIZE[0]}×{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.0f} MP) from "
          f"{args.face}; {args.runs} runs after 1 warm-up")
    print(f"Python {platform.python_version()}, Pillow {Image.__version__}, pillow-heif "
          f"{pillow_heif.__version__} (libheif {pillow_heif.libheif_version()}, "
          f"{pillow_heif.options.DECODE_THREADS} decode threads); normalised to long side "
          f"{limits.long_side} px")
    print(f"Machine: {machine()}")
    phases = ("decode", "normalise", "qa", "total", "decode cpu", "total cpu")
    header = f"{'input':<22}" + "".join(f"{p:>18}" for p in phases)
    print()
    print(header)
    print(f"{'':<22}" + "".join(f"{'median / p95 ms':>18}" for _ in phases))
    for name, data in files.items():
        one_run(data)  # warm-up: loads the face models, fills caches
        runs = [one_run(data) for _ in range(args.runs)]
        clean = image_normalise(data, limits=limits)
        label = f"{name} {len(data) / 1e6:.1f} MB"
        cells = []
        for phase in phases:
            values = [r[phase] * 1000 for r in runs]
            cells.append(f"{statistics.median(values):7.0f} / {p95(values):5.0f}")
        print(f"{label:<22}" + "".join(f"{c:>18}" for c in cells))
        print(f"{'':<22}→ {clean.width}×{clean.height} JPEG, {len(clean.jpeg) / 1e3:.0f} kB")
    print()
    print("decode: Image.open + load as image_normalise decodes. normalise: the rest of")
    print("image_normalise (downscale, orientation, sRGB, clean JPEG, hash). qa: selfie_qa")
    print("(face detection, landmarks, sharpness, light). total: image_normalise + selfie_qa,")
    print("as an upload runs them. cpu: process CPU time (all threads) for the same steps.")
    print(f"Machine after the runs: load average {hardware.load_average()}")


if __name__ == "__main__":
    main()
