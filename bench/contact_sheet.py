"""Contact sheets of the offline backend: several real faces in every preset look.

    .venv/bin/python bench/contact_sheet.py                 # -> bench/sheets/
    .venv/bin/python bench/contact_sheet.py --tag before --faces obama.jpg,elon_musk/01.jpg

Each portrait (``../shared/faces/NAME`` or ``../shared/identities/PERSON/FILE``) is
normalised the way an upload is, then retouched into each preset look at the looks' default
output size. Written to ``bench/sheets/`` (ignored by git: the sheets show real people's
faces and must never be committed):

- ``<tag>-sheet.png``: one row per face (the selfie first), one column per look;
- ``<tag>-<face>.png``: one face, every look at half size, for a closer look;
- ``<tag>-edges.png``: 100 % crops of the hair line and the shoulder of every face in one
  look, where halo, spill and leftover background show first.

Prints the time per image. Needs no database.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" if (ROOT.parent / "shared").is_dir() else Path("/work/shared")

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from PIL import Image, ImageDraw, ImageOps  # noqa: E402

from generation.backends.offline import studio_retouch  # noqa: E402
from generation.intake.decode import image_normalise  # noqa: E402
from generation.intake.faces import faces_detect  # noqa: E402
from generation.looks import PRESETS, look_spec_example  # noqa: E402

DEFAULT_FACES = ("obama.jpg,biden.jpg,elon_musk/01.jpg,jeff_bezos/01.jpg,marissa_mayer/02.jpg,"
                 "rose_leslie/02.jpg,kate_siegel/01.jpg,sundar_pichai/01.jpg,"
                 "lin_manuel_miranda/01.png,shea_whigham/01.jpg")
TILE = 240  # long side of a tile in the sheet
LABEL = 16


def _path(name: str) -> Path:
    if "/" in name:
        return SHARED / "identities" / name
    return SHARED / "faces" / name


def _selfie(name: str) -> Image.Image:
    normalised = image_normalise(_path(name).read_bytes())
    image = Image.open(io.BytesIO(normalised.jpeg))
    image.load()
    return image.convert("RGB")


def _label(image: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (image.width, image.height + LABEL), "white")
    out.paste(image, (0, LABEL))
    ImageDraw.Draw(out).text((3, 2), text, fill="black")
    return out


def _grid(rows: list[list[Image.Image]], cell: tuple[int, int]) -> Image.Image:
    width = max(len(r) for r in rows) * cell[0]
    sheet = Image.new("RGB", (width, len(rows) * cell[1]), (235, 235, 235))
    for y, row in enumerate(rows):
        for x, tile in enumerate(row):
            sheet.paste(tile, (x * cell[0], y * cell[1]))
    return sheet


def _edge_crops(image: Image.Image, side: int = 200) -> list[Image.Image]:
    """100 % crops at the top of the hair and at the left shoulder."""
    faces = faces_detect(image, upsample=0)
    if not faces:
        return [image.crop((0, 0, side, side))]
    face = faces[0]
    cx = (face.left + face.right) / 2
    top = face.top - 0.45 * face.height
    hair = (int(cx - side / 2), int(top - side / 2))
    shoulder = (int(max(0, face.left - 1.1 * face.width - side / 2)),
                int(face.bottom + 0.4 * face.height))
    return [image.crop((x, y, x + side, y + side)) for x, y in (hair, shoulder)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", default=DEFAULT_FACES,
                        help="comma-separated: NAME in shared/faces or PERSON/FILE in identities")
    parser.add_argument("--looks", default=",".join(PRESETS))
    parser.add_argument("--size", type=int, default=1024, help="output long side, px")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tag", default="offline", help="prefix of the written files")
    parser.add_argument("--out", default=str(ROOT / "bench" / "sheets"))
    parser.add_argument("--edge-look", default="executive",
                        help="look of the 100 %% edge crops (a dark backdrop shows halos)")
    args = parser.parse_args()

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.faces.split(",") if n]
    looks = [k for k in args.looks.split(",") if k]
    rows, edges, timings = [], [], []
    cell = (TILE, TILE + LABEL)
    for name in names:
        selfie = _selfie(name)
        thumb = ImageOps.contain(selfie, (TILE, TILE))
        row = [_label(thumb, f"{name} (selfie)")]
        large = []
        for key in looks:
            spec = look_spec_example(key, output_size=args.size)
            started = time.perf_counter()
            try:
                result = studio_retouch(selfie, look=spec, seed=args.seed)
            except ValueError as error:  # no face: say so in the tile
                result = Image.new("RGB", spec.output_dimensions, "white")
                ImageDraw.Draw(result).text((10, 10), str(error)[:60], fill="red")
            timings.append(time.perf_counter() - started)
            row.append(_label(ImageOps.contain(result, (TILE, TILE)), key))
            large.append(_label(ImageOps.contain(result, (args.size // 2, args.size // 2)), key))
            if key == args.edge_look:
                edges.append([_label(crop, f"{name} {key}") for crop in _edge_crops(result)])
        rows.append(row)
        half = (args.size // 2, args.size // 2 + LABEL)
        safe = name.replace("/", "_").rsplit(".", 1)[0]
        _grid([large[:3], large[3:]], half).save(out_dir / f"{args.tag}-{safe}.png")
        print(f"{name}: {', '.join(f'{t * 1000:.0f}' for t in timings[-len(looks):])} ms",
              flush=True)
    _grid(rows, cell).save(out_dir / f"{args.tag}-sheet.png")
    if edges:
        _grid(edges, (200, 200 + LABEL)).save(out_dir / f"{args.tag}-edges.png")
    timings.sort()
    print(f"{len(timings)} images, median {timings[len(timings) // 2] * 1000:.0f} ms; "
          f"written to {out_dir}/{args.tag}-*.png")


if __name__ == "__main__":
    main()
