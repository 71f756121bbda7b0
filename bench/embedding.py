"""Time per face chip of the face-embedding network: dlib's own against the NumPy one.

    .venv/bin/python bench/embedding.py [--runs 5] [--batch 8]

Chips are cut from the shared portraits as intake cuts them; each runtime embeds them one
chip per call (a selfie at intake) and ``--batch`` chips per call (a job's candidates). Figures:
median over ``--runs`` passes of wall and CPU time per chip, after a warm-up that loads both
networks; and the largest difference between the two runtimes' embeddings. CPU time is the
process's own (OpenBLAS threads included). Prints the OpenBLAS core type in force
(config/blas.py) and its thread count (``OPENBLAS_NUM_THREADS``, default: every core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

# isort: off
# First: sets up Django, whose config package names OpenBLAS's kernels before NumPy loads.
from calibration_data import SHARED, machine
# isort: on
import numpy as np
from PIL import Image

from generation.intake import resnet
from generation.intake.faces import (
    _recogniser,
    detection_copy,
    face_models_dir,
    faces_detect_array,
)
from generation.likeness import EMBED_LONG_SIDE, JITTERS, face_chip


def _chips() -> list[np.ndarray]:
    chips = []
    paths = sorted((SHARED / "identities").glob("*/*.*")) + sorted((SHARED / "faces").glob("*.jpg"))
    for path in paths:
        if path.suffix.lower() not in (".jpg", ".png"):
            continue
        pixels, _ = detection_copy(Image.open(path).convert("RGB"), EMBED_LONG_SIDE)
        pixels = np.ascontiguousarray(pixels)
        for face in faces_detect_array(pixels, upsample=0)[:1]:
            chips.append(face_chip(pixels, (face.left, face.top, face.right, face.bottom)))
    return chips


def _per_chip(embed, chips: list[np.ndarray], batch: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(chips), batch):
        embed(chips[start:start + batch])
    return ((time.perf_counter() - wall) / len(chips) * 1000,
            (time.process_time() - cpu) / len(chips) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    chips = _chips()
    net = resnet.network(face_models_dir())
    runtimes = {
        "dlib": lambda c: np.array(_recogniser().compute_face_descriptor(c, JITTERS)),
        "numpy": net.embed,
    }
    print(f"embedding: {machine()}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(OpenBLAS detects)')} "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(all cores)')}; "
          f"{len(chips)} chips, {args.runs} runs after a warm-up")
    vectors = {name: embed(chips) for name, embed in runtimes.items()}
    difference = float(np.abs(vectors["dlib"] - vectors["numpy"]).max())
    results = {}
    for batch in (1, args.batch):
        for name in runtimes:
            results[(name, batch)] = []
        for _ in range(args.runs):
            # Interleaved: both runtimes see the same moments of a shared machine.
            for name, embed in runtimes.items():
                results[(name, batch)].append(_per_chip(embed, chips, batch))
    for (name, batch), values in results.items():
        print(f"  {name:<6} {batch} chip(s) a call: wall "
              f"{statistics.median(v[0] for v in values):6.1f} ms  CPU "
              f"{statistics.median(v[1] for v in values):6.1f} ms per chip")
    print(f"largest difference between the runtimes: {difference:.2e}")


if __name__ == "__main__":
    main()
