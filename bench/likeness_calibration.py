"""Calibration of the identity rule on many identities: ROC-AUC, false accepts and false
rejects at the chosen threshold, blends of two identities, and the detection size.

    .venv/bin/python bench/likeness_calibration.py [--threshold T] [--quick]

Material (bench/calibration_data.py): 12 identities, 18 photographs. Every photograph is
embedded as it is, in realistic variants (mirror, re-framings, light, casts, heavy JPEG,
small faces, rotation, a poor selfie) and as the offline backend's retouched candidate.

* **pairs**: every same-person pair (same photograph's variants; different photographs) and
  every different-person pair: distance distributions, ROC-AUC, FAR/FRR around the threshold;
* **the rule as scoring applies it** (``generation.likeness.identity_check``): for each
  person with two photographs, one is the selfie set (its original and three variants, as
  four selfies) and the other is held out: its variants and its candidate are genuine
  trials; every other person's originals, variants and candidates are impostor trials;
* **blends**: the candidate of one photograph blended 60/40 and 70/30 with another person's
  candidate of the same look (aligned by the backend's framing), against the first person's
  other photograph, with every other person as a colleague; which part of the rule catches it;
* **detection size**: the candidate embedded with detection on copies of 320-1024 px, against
  the embedding at full size: how far it moves, and what it costs.

No database is needed. See bench/README.md for the figures and what they say.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from calibration_data import load_people, machine
from PIL import Image, ImageEnhance, ImageOps

from generation.backends.offline import studio_retouch
from generation.intake.faces import detection_copy, faces_detect, faces_detect_array
from generation.likeness import (
    DEFAULT_THRESHOLD,
    MAX_DISTANCE,
    chips_embed,
    face_chip,
    identity_check,
)
from generation.looks import look_spec_example

SWEEP = (0.4, 0.45, 0.5, 0.55, 0.6)
SIZES = (320, 480, 640, 1024)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _cast(image: Image.Image, gains: tuple[float, float, float]) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) * np.asarray(gains, dtype=np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _small(image: Image.Image, face_px: float) -> Image.Image:
    face = faces_detect(image)[0]
    scale = min(1.0, face_px / face.width)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.LANCZOS)


VARIANTS = {
    "mirror": ImageOps.mirror,
    "dark": lambda im: ImageEnhance.Brightness(im).enhance(0.5),
    "warm cast": lambda im: _cast(im, (1.15, 1.0, 0.78)),
    "greyscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "jpeg q15": lambda im: _jpeg(im, 15),
    "face 64 px": lambda im: _small(im, 64),
    "rotate -12": lambda im: im.rotate(-12, Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)),
    "poor selfie": lambda im: _jpeg(ImageEnhance.Brightness(_cast(_small(im, 80), (1.12, 1, .8)))
                                    .enhance(0.6), 30),
}
SELFIE_SET = ("original", "mirror", "dark", "warm cast")  # four "selfies" from one photograph


def embed(image: Image.Image, long_side: int = 640) -> list[float] | None:
    """As scoring embeds: the largest face, found on a copy at most ``long_side`` long."""
    pixels, scale = detection_copy(image, long_side)
    faces = faces_detect_array(pixels, upsample=0) or faces_detect_array(pixels, upsample=1)
    if not faces:
        return None
    f = faces[0]
    return chips_embed([face_chip(np.ascontiguousarray(pixels),
                                  (f.left, f.top, f.right, f.bottom))])[0]


def auc(same: np.ndarray, different: np.ndarray) -> float:
    """P(a same-person pair is closer than a different-person pair), ties half."""
    different = np.sort(different)
    right = np.searchsorted(different, same, side="right")
    left = np.searchsorted(different, same, side="left")
    return float(((len(different) - right) + 0.5 * (right - left)).sum()
                 / (len(same) * len(different)))


def rate(hits: int, total: int) -> str:
    return f"{hits / total * 100:5.1f} % ({hits}/{total})" if total else "n/a"


def spread(values: list[float]) -> str:
    v = np.asarray(values)
    return (f"min {v.min():.3f}  p5 {np.percentile(v, 5):.3f}  median {np.median(v):.3f}  "
            f"p95 {np.percentile(v, 95):.3f}  max {v.max():.3f}") if len(v) else "(none)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--quick", action="store_true", help="no variants (originals, candidates)")
    parser.add_argument("--pull", type=float, default=None, help="try another COLLEAGUE_PULL")
    parser.add_argument("--drop", type=float, default=None, help="try another COLLEAGUE_DROP")
    args = parser.parse_args()
    import generation.likeness as likeness

    likeness.COLLEAGUE_PULL = args.pull if args.pull is not None else likeness.COLLEAGUE_PULL
    likeness.COLLEAGUE_DROP = args.drop if args.drop is not None else likeness.COLLEAGUE_DROP
    print(f"colleague rule: pull >= {likeness.COLLEAGUE_PULL}, drop >= {likeness.COLLEAGUE_DROP}, "
          f"within {likeness.COLLEAGUE_NEAR}")
    threshold = args.threshold
    started = time.perf_counter()
    people, notes = load_people()
    look = look_spec_example("corporate", output_size=1024)
    print(f"likeness calibration: {machine()}")
    for note in notes:
        print(f"  note: {note}")
    print(f"identities: {len(people)}; photographs: {sum(len(v) for v in people.values())}; "
          f"with two photographs: {sum(len(v) > 1 for v in people.values())}")

    # samples[(person, photo name)][variant] = embedding
    samples: dict[tuple[str, str], dict[str, list[float]]] = {}
    candidates: dict[tuple[str, str], Image.Image] = {}
    for person, photos in people.items():
        for photo in photos:
            key = (person, photo.name)
            row = samples[key] = {"original": embed(photo.image)}
            candidates[key] = studio_retouch(photo.image, look=look, seed=1)
            row["candidate"] = embed(candidates[key])
            for name, make in ({} if args.quick else VARIANTS).items():
                row[name] = embed(make(photo.image))
            missed = [n for n, e in row.items() if e is None]
            if missed:
                print(f"  no face detected: {photo.name} {', '.join(missed)}")
    flat = [(p, n, v, np.asarray(e)) for (p, n), row in samples.items() for v, e in row.items()
            if e is not None]
    print(f"embedded samples: {len(flat)} ({time.perf_counter() - started:.0f} s)")

    same_shot, cross_shot, different = [], [], []
    for (p1, n1, _, e1), (p2, n2, _, e2) in itertools.combinations(flat, 2):
        d = float(np.linalg.norm(e1 - e2))
        (different if p1 != p2 else same_shot if n1 == n2 else cross_shot).append(d)
    same = same_shot + cross_shot
    print("\n== Pairs (Euclidean distance between embeddings)")
    print(f"same person, same photograph   {len(same_shot):6}  {spread(same_shot)}")
    print(f"same person, other photograph  {len(cross_shot):6}  {spread(cross_shot)}")
    print(f"different people               {len(different):6}  {spread(different)}")
    same_np, cross_np, diff_np = map(np.asarray, (same, cross_shot, different))
    print(f"ROC-AUC, all same-person pairs: {auc(same_np, diff_np):.4f}; "
          f"other-photograph pairs only: {auc(cross_np, diff_np):.4f}")
    print(f"{'threshold':>9}  {'false accepts':>22}  {'false rejects (all)':>22}  "
          f"{'false rejects (other photo)':>26}")
    for t in sorted({*SWEEP, threshold}):
        print(f"{t:>9.2f}  {rate(int((diff_np <= t).sum()), len(diff_np)):>22}  "
              f"{rate(int((same_np > t).sum()), len(same_np)):>22}  "
              f"{rate(int((cross_np > t).sum()), len(cross_np)):>26}"
              + ("  <- chosen" if t == threshold else ""))

    _rule(people, samples, threshold)
    _blends(people, samples, candidates, threshold)
    _detection_sizes(candidates)
    print(f"\ntotal time: {time.perf_counter() - started:.0f} s")


def _centroids(samples, exclude: str) -> dict[str, np.ndarray]:
    by_person: dict[str, list] = {}
    for (person, _), row in samples.items():
        if person != exclude and row.get("original") is not None:
            by_person.setdefault(person, []).append(row["original"])
    return {p: np.mean(np.asarray(v), axis=0) for p, v in by_person.items()}


def _rule(people, samples, threshold: float) -> None:
    print(f"\n== The rule as scoring applies it: median <= {threshold:.2f}, max <= "
          f"{MAX_DISTANCE:.2f} over a set of four selfies (one photograph: "
          f"{', '.join(SELFIE_SET)}); the other photograph held out")
    genuine = impostor = 0
    rejected = accepted = 0
    colleague_rejects = 0
    medians_genuine, medians_impostor, which = [], [], []
    for person, photos in people.items():
        if len(photos) < 2:
            continue
        for selfie_photo, held in itertools.permutations(photos, 2):
            refs = [samples[(person, selfie_photo.name)][v] for v in SELFIE_SET
                    if samples[(person, selfie_photo.name)].get(v) is not None]
            colleagues = list(_centroids(samples, person).values())
            for variant, e in samples[(person, held.name)].items():
                if e is None:
                    continue
                genuine += 1
                plain = identity_check(e, refs, threshold=threshold)
                medians_genuine.append(plain.median)
                rejected += not plain.passes
                if not plain.passes:
                    which.append(f"{held.name} {variant} ({'+'.join(plain.failed)} "
                                 f"{plain.median:.3f}/{plain.maximum:.3f})")
                elif not identity_check(e, refs, threshold=threshold,
                                        colleagues=colleagues).passes:
                    colleague_rejects += 1
                    which.append(f"{held.name} {variant} (colleague)")
            for (other, _), row in samples.items():
                if other == person:
                    continue
                for e in row.values():
                    if e is None:
                        continue
                    impostor += 1
                    result = identity_check(e, refs, threshold=threshold)
                    medians_impostor.append(result.median)
                    accepted += result.passes
    print(f"genuine trials {genuine}: median distance {spread(medians_genuine)}")
    print(f"impostor trials {impostor}: median distance {spread(medians_impostor)}")
    print(f"false rejects (median and max): {rate(rejected, genuine)}")
    print(f"false accepts (median and max): {rate(accepted, impostor)}")
    print(f"further false rejects from the colleague rule (all other identities as "
          f"colleagues): {rate(colleague_rejects, genuine)}")
    print(f"rejected genuine trials: {'; '.join(which) or 'none'}")
    print(f"ROC-AUC of the median score, genuine vs impostor trials: "
          f"{auc(np.asarray(medians_genuine), np.asarray(medians_impostor)):.4f}")


def _blends(people, samples, candidates, threshold: float) -> None:
    print("\n== Blends of two identities (candidate pixels, aligned by the backend's framing)")
    for weight in (0.6, 0.7):
        caught = {"median": 0, "max": 0, "colleague": 0}
        any_caught = total = 0
        for person, photos in people.items():
            if len(photos) < 2:
                continue
            refs = [samples[(person, photos[1].name)][v] for v in SELFIE_SET
                    if samples[(person, photos[1].name)].get(v) is not None]
            colleagues = list(_centroids(samples, person).values())
            mine = candidates[(person, photos[0].name)]
            for other, theirs in people.items():
                if other == person:
                    continue
                blend = Image.blend(candidates[(other, theirs[0].name)].resize(mine.size),
                                    mine, weight)
                e = embed(blend)
                if e is None:
                    continue
                total += 1
                result = identity_check(e, refs, threshold=threshold, colleagues=colleagues)
                for part in result.failed:
                    caught[part] += 1
                any_caught += not result.passes
        parts = ", ".join(f"{k} {rate(v, total)}" for k, v in caught.items())
        print(f"{round(weight * 100)}/{round(100 - weight * 100)}: hidden {rate(any_caught, total)}; "
              f"by part of the rule: {parts}")


def _detection_sizes(candidates) -> None:
    print("\n== Detection size for embedding candidates (EMBED_LONG_SIDE): distance to the "
          "embedding at full size, time per candidate (detection + landmarks + chip + ResNet)")
    reference = {k: embed(im, long_side=4096) for k, im in candidates.items()}
    for side in SIZES:
        moved, missed, started = [], 0, time.perf_counter()
        for key, image in candidates.items():
            e = embed(image, long_side=side)
            if e is None or reference[key] is None:
                missed += 1
                continue
            moved.append(float(np.linalg.norm(np.asarray(e) - np.asarray(reference[key]))))
        per = (time.perf_counter() - started) / len(candidates) * 1000
        print(f"{side:>5} px: moved median {np.median(moved):.3f}, max {max(moved):.3f}; "
              f"no face {missed}; {per:.0f} ms per candidate")


if __name__ == "__main__":
    main()
