"""Do the gates judge a candidate the same from the pixels a job run encoded as from the
JPEG storage holds? (``generation.job_photos``: a run's scoring judges the former.)

    .venv/bin/python bench/judged_pixels.py [--seeds 3] [--size 1024]

For each shared identity with two photographs: the first is the selfie (its embedding and
quality figures computed as intake does), the second is retouched by the offline backend
with ``--seeds`` seeds; each candidate is encoded as ``candidate_store`` does (quality 92)
and both it and its decoded JPEG go through every gate, in one batch, as a job's scoring
runs them: against the person's own selfie, and against the next identity's (an impostor,
which both must hide). Printed: each pair's verdicts, likeness distances and the mean pixel difference;
then how many verdicts agree and the largest distance difference. Exit 1 if any verdict
differs.
"""

from __future__ import annotations

import argparse
import io
import sys

# isort: off
from calibration_data import SHARED, machine  # sets Django up first (see bench/scoring.py)
# isort: on
import numpy as np
from PIL import Image, ImageOps

from generation.backends.offline import NoFaceForRetouch, studio_retouch
from generation.candidate_images import candidate_jpegs
from generation.conformance import tolerances_for
from generation.gates.candidate import References, candidates_gate
from generation.gates.quality import quality_baseline
from generation.intake.qa import selfie_qa
from generation.looks import look_spec_example


def _photo(path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    look = look_spec_example("corporate", output_size=args.size)
    tolerances = tolerances_for(look)
    print(f"judged pixels: {machine()}")
    people = []
    for person in sorted(p for p in (SHARED / "identities").iterdir() if p.is_dir()):
        photos = sorted(person.glob("*.jpg"))
        if len(photos) < 2:
            continue
        qa = selfie_qa(_photo(photos[0]))
        if qa.embedding is None:
            print(f"{person.name}: no embedding for the selfie, left out")
            continue
        people.append((person.name, References(
            embeddings=[qa.embedding], quality=quality_baseline([qa.metrics]),
            colleagues=np.zeros((0, len(qa.embedding)))), _photo(photos[1])))
    rows = []
    for number, (name, own, source) in enumerate(people):
        impostor_of = people[(number + 1) % len(people)]
        for seed in range(1, args.seeds + 1):
            try:
                made = studio_retouch(source, look=look, seed=seed).convert("RGB")
            except NoFaceForRetouch:
                print(f"{name}: no face to retouch, left out")
                break
            stored = Image.open(io.BytesIO(candidate_jpegs(made)[0])).convert("RGB")
            difference = np.abs(np.asarray(made, np.int16) - np.asarray(stored, np.int16))
            for against, references in ((name, own), (impostor_of[0], impostor_of[1])):
                pixels, jpeg = candidates_gate([made, stored], references=references,
                                               look=look, tolerances=tolerances)
                same = (pixels.shown, pixels.reasons) == (jpeg.shown, jpeg.reasons)
                rows.append((same, pixels.distance, jpeg.distance))
                print(f"{name:20} seed {seed} as {against:20}: shown {pixels.shown} / "
                      f"{jpeg.shown}, reasons {pixels.reasons} / {jpeg.reasons}, distance "
                      f"{pixels.distance:.4f} / {jpeg.distance:.4f}, mean |Δ| "
                      f"{difference.mean():.2f} levels")
    gaps = [abs(a - b) for _, a, b in rows if a is not None and b is not None]
    agree = sum(same for same, _, _ in rows)
    print(f"verdicts the same: {agree} of {len(rows)}; likeness distance difference: mean "
          f"{np.mean(gaps):.4f}, largest {max(gaps):.4f}")
    if agree != len(rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
