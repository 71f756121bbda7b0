"""``render_headshot``: the offline backend on one selfie, for a built-in look preset.

    python manage.py render_headshot --look corporate --selfie me.jpg --out headshot.png

For CI and for self-hosters trying their own photos. The selfie is normalised the way an
upload is, retouched by the offline backend (the same code a job runs) and written to
``--out`` (PNG, or JPEG by its extension). One JSON line on stdout says what happened:

    {"selfie": ..., "look": ..., "seed": ..., "rendered": true, "out": ..., "width": ...,
     "height": ..., "notes": [...], "not_available": [...], "ms": ...}

or ``"rendered": false`` with ``"reasons"`` (``no_face``, ``unreadable``) and a
``"message"``. Exit status 0 whatever the verdict; 2 on usage errors (an unknown preset,
a selfie that does not exist, an output folder that does not exist or a format that is
not PNG or JPEG).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import Image

from generation.backends.offline import NoFaceForRetouch, offline_limits
from generation.finish import NOTES, finish_apply
from generation.intake.decode import ImageRejected, image_normalise
from generation.looks import PRESETS, look_spec_example

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


class Command(BaseCommand):
    help = "Render one selfie with the offline backend in a built-in look; prints a JSON line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--look", required=True, choices=sorted(PRESETS),
                            help="a built-in look preset")
        parser.add_argument("--selfie", required=True, help="path of the selfie (JPEG, PNG, HEIC)")
        parser.add_argument("--out", required=True, help="where to write the headshot (.png/.jpg)")
        parser.add_argument("--seed", type=int, default=0, help="candidate seed (default 0)")
        parser.add_argument("--size", type=int, default=1024, metavar="PX",
                            help="output long side in pixels, 256 to 4096 (default 1024)")

    def handle(self, *args, look: str, selfie: str, out: str, seed: int, size: int,
               **options) -> None:
        source, target = Path(selfie), Path(out)
        if not 256 <= size <= 4096:
            raise CommandError(f"--size {size}: use 256 to 4096 pixels.", returncode=2)
        if not source.is_file():
            raise CommandError(f"--selfie {selfie}: no such file.", returncode=2)
        if target.suffix.lower() not in FORMATS:
            raise CommandError(f"--out {out}: use a .png or .jpg file name.", returncode=2)
        if not target.parent.is_dir():
            raise CommandError(f"--out {out}: the folder {target.parent} does not exist.",
                               returncode=2)
        spec = look_spec_example(look, output_size=size)
        preset = PRESETS[look]
        report = {"selfie": selfie, "look": look, "seed": seed}
        started = time.perf_counter()
        try:
            normalised = image_normalise(source.read_bytes())
            image = Image.open(io.BytesIO(normalised.jpeg))
            image.load()
            finished = finish_apply(image.convert("RGB"), look=spec, seed=seed, retouch=True)
        except ImageRejected as error:
            self._emit({**report, "rendered": False, "reasons": ["unreadable"],
                        "message": str(error)})
            return
        except NoFaceForRetouch as error:
            self._emit({**report, "rendered": False, "reasons": ["no_face"],
                        "message": str(error)})
            return
        elapsed = time.perf_counter() - started
        kind = FORMATS[target.suffix.lower()]
        finished.image.save(target, format=kind, **({"quality": 92} if kind == "JPEG" else {}))
        limits = offline_limits(wardrobe=preset.wardrobe, lighting=preset.lighting,
                                backdrop_description=preset.backdrop_description)
        self._emit({**report, "rendered": True, "out": out, "width": finished.image.width,
                    "height": finished.image.height, "notes": list(finished.notes),
                    "notes_text": [NOTES[n] for n in finished.notes],
                    "not_available": [{"field": lim.field, "text": lim.text} for lim in limits],
                    "ms": round(elapsed * 1000)})

    def _emit(self, payload: dict) -> None:
        self.stdout.write(json.dumps(payload, ensure_ascii=False))
