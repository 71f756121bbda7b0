"""Calibration of the likeness score: how far apart same-person and different-person faces are.

    .venv/bin/python bench/likeness_calibration.py [--faces-dir DIR] [--threshold T]

Embeds every face of the real portraits in ../shared/faces (each face of a group photo apart)
and the astronaut in scikit-image's sample data, plus realistic variants of each (mirror,
re-framings, light and colour casts, low-quality JPEG, small faces, small rotations). Every
pair of embeddings of one person is a same-person pair, every pair across people a
different-person pair. Prints the distance distributions, ROC-AUC, false accepts and false
rejects at the threshold and around it, the zero-false-accept ceiling, and how the
median-of-references score behaves with held-out photos. Needs no database; see
bench/README.md. There are only three people in this material: read the figures as a sanity
check of the threshold, not as a measured error rate.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACES_DIRS = (ROOT.parent / "shared" / "faces", Path("/work/shared/faces"))

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from PIL import Image, ImageEnhance, ImageOps  # noqa: E402

from generation.intake.faces import Face, faces_detect  # noqa: E402
from generation.likeness import (  # noqa: E402
    DEFAULT_THRESHOLD,
    embedding_distance,
    face_embedding,
    likeness_distance,
)

SWEEP = (0.4, 0.45, 0.5, 0.55, 0.6)
ASTRONAUT = "skimage astronaut()"

# Who is where. The files carry no labels, so they are written down here: the faces of each
# file from left to right, as (person, photograph). "Photograph" is one shot; two files cut
# from the same shot share it (checked by eye, and their embeddings are 0.05-0.06 apart):
# obama_small.jpg is a smaller crop of obama.jpg, and the right half of two_people.jpg is
# the same shot as biden.jpg. Pairs within one photograph measure robustness to image
# changes only; pairs across photographs also measure the person's own variation.
MANIFEST: dict[str, list[tuple[str, str]]] = {
    "obama.jpg": [("Barack Obama", "obama A")],
    "obama_small.jpg": [("Barack Obama", "obama A")],
    "obama2.jpg": [("Barack Obama", "obama B")],
    "biden.jpg": [("Joe Biden", "biden A")],
    "two_people.jpg": [("Barack Obama", "obama C"), ("Joe Biden", "biden A")],
    # Eileen Collins in her NASA portrait (public domain), shipped inside scikit-image.
    ASTRONAUT: [("Eileen Collins", "collins A")],
}


@dataclass(frozen=True)
class Sample:
    person: str
    photo: str  # the photograph (shot) it comes from
    source: str  # file and face, e.g. "two_people.jpg[1]"
    variant: str
    embedding: list[float]


Point = tuple[float, float]
# A variant: (image, a face found in it) -> (the changed image, where that face's centre is now).
Variant = Callable[[Image.Image, Face], tuple[Image.Image, Point]]


def _centre(face: Face) -> Point:
    return ((face.left + face.right) / 2, (face.top + face.bottom) / 2)


def _crop(image: Image.Image, face: Face, *, width: float, aspect: float, shift: float = 0.0,
          ) -> tuple[Image.Image, Point]:
    """A re-framing around the face: ``width`` face widths wide, height = width * aspect."""
    cx, cy = _centre(face)
    w = face.width * width
    h = w * aspect
    left = max(0, round(cx - w / 2 + shift * w))
    top = max(0, round(cy - h * 0.4))
    right = min(image.width, round(left + w))
    bottom = min(image.height, round(top + h))
    return image.crop((left, top, right, bottom)), (cx - left, cy - top)


def _scaled(image: Image.Image, face: Face, face_px: float) -> tuple[Image.Image, Point]:
    """The whole frame downscaled so the face box is ``face_px`` wide (never upscaled)."""
    scale = min(1.0, face_px / face.width)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    cx, cy = _centre(face)
    return image.resize(size, Image.Resampling.LANCZOS), (cx * scale, cy * scale)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _cast(image: Image.Image, red: float, green: float, blue: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) * np.array([red, green, blue], dtype=np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _same(change: Callable[[Image.Image], Image.Image]) -> Variant:
    return lambda image, face: (change(image), _centre(face))


def _rotated(angle: float) -> Variant:
    def rotate(image: Image.Image, face: Face) -> tuple[Image.Image, Point]:
        centre = _centre(face)
        return image.rotate(angle, Image.Resampling.BICUBIC, center=centre, fillcolor=(128, 128, 128)), centre
    return rotate


def _poor_selfie(image: Image.Image, face: Face) -> tuple[Image.Image, Point]:
    # Dim warm room light, a small face and a phone's heavy JPEG, all at once.
    small, centre = _scaled(image, face, 80)
    dim = ImageEnhance.Brightness(_cast(small, 1.12, 1.0, 0.8)).enhance(0.6)
    return _jpeg(dim, 30), centre


VARIANTS: dict[str, Variant] = {
    "original": _same(lambda im: im),
    "mirror": lambda im, f: (ImageOps.mirror(im), (im.width - _centre(f)[0], _centre(f)[1])),
    "crop tight": lambda im, f: _crop(im, f, width=1.5, aspect=1.0),
    "crop portrait": lambda im, f: _crop(im, f, width=3.0, aspect=4 / 3),
    "crop off-centre": lambda im, f: _crop(im, f, width=2.5, aspect=1.0, shift=0.3),
    "dark": _same(lambda im: ImageEnhance.Brightness(im).enhance(0.5)),
    "bright+flat": _same(lambda im: ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.35))
                          .enhance(0.65)),
    "warm cast": _same(lambda im: _cast(im, 1.15, 1.0, 0.78)),
    "cool cast": _same(lambda im: _cast(im, 0.85, 1.0, 1.18)),
    "greyscale": _same(lambda im: ImageOps.grayscale(im).convert("RGB")),
    "jpeg q15": _same(lambda im: _jpeg(im, 15)),
    "jpeg q6": _same(lambda im: _jpeg(im, 6)),
    "face 64 px": lambda im, f: _scaled(im, f, 64),
    "face 44 px": lambda im, f: _scaled(im, f, 44),
    "rotate +8": _rotated(8),
    "rotate -12": _rotated(-12),
    "poor selfie": _poor_selfie,
}


def _find(image: Image.Image, centre: Point) -> Face | None:
    """The detected face whose box holds ``centre`` (nearest centre first), as QA detects."""
    holding = [f for f in faces_detect(image, upsample=1)
               if f.left <= centre[0] <= f.right and f.top <= centre[1] <= f.bottom]
    return min(holding, key=lambda f: (_centre(f)[0] - centre[0]) ** 2 + (_centre(f)[1] - centre[1]) ** 2,
               default=None)


def _load(faces_dir: Path) -> tuple[dict[str, Image.Image], list[str]]:
    images: dict[str, Image.Image] = {}
    notes: list[str] = []
    for name in MANIFEST:
        if name == ASTRONAUT:
            try:
                from skimage import data
            except ImportError:
                notes.append("scikit-image not installed: Eileen Collins (astronaut) left out")
                continue
            images[name] = Image.fromarray(data.astronaut()).convert("RGB")
        elif (faces_dir / name).is_file():
            image = Image.open(faces_dir / name)
            images[name] = ImageOps.exif_transpose(image).convert("RGB")
        else:
            notes.append(f"{name} not found in {faces_dir}: left out")
    return images, notes


def _embed_all(images: dict[str, Image.Image]) -> tuple[list[Sample], list[str]]:
    samples: list[Sample] = []
    missed: list[str] = []
    for name, image in images.items():
        expected = MANIFEST[name]
        found = sorted(faces_detect(image, upsample=1), key=lambda f: f.score, reverse=True)
        if len(found) < len(expected):
            missed.append(f"{name}: {len(found)} of {len(expected)} faces found, file left out")
            continue
        # The expected number of faces, most confident first (drops stray weak detections),
        # then left to right as the manifest lists them.
        faces = sorted(found[:len(expected)], key=lambda f: f.left)
        for index, (face, (person, photo)) in enumerate(zip(faces, expected, strict=True)):
            source = name if len(expected) == 1 else f"{name}[{index}]"
            for variant, make in VARIANTS.items():
                changed, centre = make(image, face)
                target = face if variant == "original" else _find(changed, centre)
                if target is None:
                    missed.append(f"{source} {variant}: no face detected")
                    continue
                samples.append(Sample(person, photo, source, variant, face_embedding(changed, face=target)))
    return samples, missed


def _spread(values: list[float]) -> str:
    if not values:
        return "(none)"
    ordered = np.sort(np.asarray(values))
    p5, p95 = np.percentile(ordered, [5, 95])
    return (f"min {ordered[0]:.3f}  p5 {p5:.3f}  median {np.median(ordered):.3f}  "
            f"p95 {p95:.3f}  max {ordered[-1]:.3f}")


def _name(sample: Sample) -> str:
    return f"{sample.source} {sample.variant}"


def _auc(same: np.ndarray, different: np.ndarray) -> float:
    """P(a same-person pair is closer than a different-person pair), ties half: Mann-Whitney U / (n m)."""
    different = np.sort(different)
    farther = len(different) - np.searchsorted(different, same, side="right")
    ties = np.searchsorted(different, same, side="right") - np.searchsorted(different, same, side="left")
    return float((farther + 0.5 * ties).sum() / (len(same) * len(different)))


def _rate(hits: int, total: int) -> str:
    return f"{hits / total * 100:5.1f} % ({hits}/{total})" if total else "  n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_dir = next((d for d in FACES_DIRS if d.is_dir()), FACES_DIRS[0])
    parser.add_argument("--faces-dir", type=Path, default=default_dir,
                        help=f"folder with the portraits (default {default_dir})")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"distance threshold to judge (default DEFAULT_THRESHOLD = {DEFAULT_THRESHOLD})")
    args = parser.parse_args()
    threshold: float = args.threshold

    started = time.perf_counter()
    images, notes = _load(args.faces_dir)
    samples, missed = _embed_all(images)
    elapsed = time.perf_counter() - started

    print(f"likeness calibration: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; faces from {args.faces_dir}")
    for note in notes:
        print(f"  note: {note}")

    people = sorted({s.person for s in samples})
    originals = [s for s in samples if s.variant == "original"]
    print("\n== Material")
    print(f"identities: {len(people)} ({', '.join(people)}) -- very few; public figures, official portraits")
    for person in people:
        mine = [s for s in originals if s.person == person]
        shots = sorted({s.photo for s in mine})
        print(f"  {person:<15} {len(mine)} face(s) in files, {len(shots)} distinct photograph(s): "
              + ", ".join(s.source for s in mine))
    shots = len({s.photo for s in originals})
    print(f"photos (faces in files): {len(originals)}; distinct photographs: {shots}")
    print(f"variants per face: {len(VARIANTS)} ({', '.join(VARIANTS)})")
    print(f"embedded samples: {len(samples)}; not detected: {len(missed)}")
    for line in missed:
        print(f"  missed: {line}")
    print(f"embedding time: {elapsed:.1f} s")
    if len(people) < 2:
        sys.exit("fewer than two people found: no different-person pairs to calibrate with")

    print("\n== Labels against embeddings (nearest other original, as a check of the manifest)")
    for sample in originals:
        others = [o for o in originals if o.source != sample.source]
        nearest = min(others, key=lambda o: embedding_distance(sample.embedding, o.embedding))
        print(f"  {sample.source:<20} {sample.person:<15} nearest {nearest.source:<20} "
              f"{nearest.person:<15} {embedding_distance(sample.embedding, nearest.embedding):.3f}")

    same_shot: list[float] = []
    cross_shot: list[float] = []
    different: list[float] = []
    cross_people: set[str] = set()
    same_pairs: list[tuple[Sample, Sample, float]] = []
    closest_pair: tuple[float, Sample, Sample] | None = None
    farthest_pair: tuple[float, Sample, Sample] | None = None
    for a, b in itertools.combinations(samples, 2):
        distance = embedding_distance(a.embedding, b.embedding)
        if a.person != b.person:
            different.append(distance)
            if closest_pair is None or distance < closest_pair[0]:
                closest_pair = (distance, a, b)
            continue
        same_pairs.append((a, b, distance))
        if a.photo == b.photo:
            same_shot.append(distance)
        else:
            cross_shot.append(distance)
            cross_people.add(a.person)
        if farthest_pair is None or distance > farthest_pair[0]:
            farthest_pair = (distance, a, b)
    same = same_shot + cross_shot
    same_np, cross_np, diff_np = np.asarray(same), np.asarray(cross_shot), np.asarray(different)

    print("\n== Pairs")
    print(f"same-person pairs: {len(same)}  (same photograph, variants: {len(same_shot)}; "
          f"different photographs: {len(cross_shot)}, all of {', '.join(sorted(cross_people)) or 'nobody'})")
    print(f"different-person pairs: {len(different)}")

    print("\n== Distances (Euclidean)")
    print(f"  same person, same photograph      {_spread(same_shot)}")
    print(f"  same person, different photographs {_spread(cross_shot)}")
    print(f"  same person, all                  {_spread(same)}")
    print(f"  different people                  {_spread(different)}")
    if same and different:
        print(f"ROC-AUC, all same-person pairs:              {_auc(same_np, diff_np):.4f}")
    if len(cross_shot) and different:
        print(f"ROC-AUC, different-photograph pairs only:    {_auc(cross_np, diff_np):.4f}")

    print("\n== Threshold (same person when distance <= threshold)")
    print(f"{'threshold':>9}  {'false accepts':>20}  {'false rejects (all)':>20}  "
          f"{'false rejects (diff. photos)':>28}")
    for t in sorted({*SWEEP, threshold}):
        mark = "  <- " + ("DEFAULT_THRESHOLD" if t == DEFAULT_THRESHOLD else "--threshold") \
            if t in (threshold, DEFAULT_THRESHOLD) else ""
        print(f"{t:>9.2f}  {_rate(int((diff_np <= t).sum()), len(diff_np)):>20}  "
              f"{_rate(int((same_np > t).sum()), len(same_np)):>20}  "
              f"{_rate(int((cross_np > t).sum()), len(cross_np)):>28}{mark}")

    if closest_pair and farthest_pair:
        floor, a, b = closest_pair
        ceiling, c, d = farthest_pair
        print(f"\nclosest different-person pair: {floor:.3f}  ({_name(a)} / {_name(b)})")
        print(f"farthest same-person pair:     {ceiling:.3f}  ({_name(c)} / {_name(d)})")
        print(f"zero false accepts for any threshold below {floor:.3f}; margin at {threshold:.2f}: "
              f"{floor - threshold:+.3f}")
        if ceiling < floor:
            middle = (ceiling + floor) / 2
            print(f"separable: gap {floor - ceiling:.3f}; the threshold with the most margin both ways is "
                  f"{middle:.3f} (zero false accepts, zero false rejects)")
        else:
            best = float(diff_np.min()) - 1e-9
            print(f"not separable: the highest zero-false-accept threshold (just under {floor:.3f}) still "
                  f"rejects {_rate(int((same_np > best).sum()), len(same_np))} of same-person pairs")
        rejected = Counter(" / ".join(sorted((a.variant, b.variant)))
                           for a, b, d in same_pairs if d > threshold)
        if rejected:
            print(f"false rejects at {threshold:.2f} by variant pair: "
                  + ", ".join(f"{pair} {n}" for pair, n in rejected.most_common(6)))

    print("\n== Variants: distance to the same face's original, and to the person's other photographs")
    print(f"{'variant':<16} {'to own original (median, max)':>30}  "
          f"{'to other photographs (median, max)':>36}")
    for variant in VARIANTS:
        if variant == "original":
            continue
        own, other = [], []
        for sample in (s for s in samples if s.variant == variant):
            for o in originals:
                if o.person != sample.person:
                    continue
                d = embedding_distance(sample.embedding, o.embedding)
                if o.source == sample.source:
                    own.append(d)
                elif o.photo != sample.photo:
                    other.append(d)
        own_text = f"{statistics.median(own):.3f}, {max(own):.3f}" if own else "-"
        other_text = f"{statistics.median(other):.3f}, {max(other):.3f}" if other else "-"
        print(f"{variant:<16} {own_text:>30}  {other_text:>36}")

    _references(samples, originals, threshold)


def _references(samples: list[Sample], originals: list[Sample], threshold: float) -> None:
    """The score as the app computes it: median distance to the person's other selfies."""
    print("\n== Median-of-references score (likeness_distance), leaving one photograph out")
    print("references: one original face per other photograph of the person (a file cut from the held-out")
    print("photograph is never a reference); last column: all variants of those photographs as references")
    for person in sorted({s.person for s in originals}):
        mine = [s for s in originals if s.person == person]
        shots = sorted({s.photo for s in mine})
        if len(shots) < 3:
            print(f"{person}: {len(shots)} distinct photograph(s), fewer than 3: skipped")
            continue
        for shot in shots:
            # One reference per other photograph (its first file: obama.jpg, not obama_small.jpg).
            firsts = [next(s for s in mine if s.photo == other) for other in shots if other != shot]
            references = [s.embedding for s in firsts]
            names = {s.source for s in firsts}
            many = [s.embedding for s in samples if s.source in names]
            print(f"{person}, holding out '{shot}'; references {', '.join(sorted(names))} "
                  f"({len(many)} variants)")
            print(f"  {'face':<29}{'score':>6}   {'its variants against the references':<40}"
                  f"{'vs variants':>12}")
            faces = [s for s in originals if s.photo == shot] + [s for s in originals if s.person != person]
            for face in faces:
                variants = [likeness_distance(s.embedding, references) for s in samples
                            if s.source == face.source]
                if face.person == person:
                    spread = (f"median {statistics.median(variants):.3f}, max {max(variants):.3f}, "
                              f"{sum(1 for v in variants if v > threshold)} over {threshold:.2f}")
                    role = "held out"
                else:
                    spread = (f"min {min(variants):.3f}, "
                              f"{sum(1 for v in variants if v <= threshold)} at or under {threshold:.2f}")
                    role = "other"
                print(f"  {role:<9}{face.source:<20}{likeness_distance(face.embedding, references):>6.3f}   "
                      f"{len(variants)}: {spread:<36}{likeness_distance(face.embedding, many):>12.3f}"
                      + ("" if face.person == person else f"  ({face.person})"))


if __name__ == "__main__":
    main()
