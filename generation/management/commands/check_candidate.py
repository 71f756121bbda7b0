"""The gate the product applies before showing a photo, on files: one JSON line per candidate.

    python manage.py check_candidate --look PRESET --selfie PATH [--selfie PATH ...]
        [--colleague PATH ...] [--threshold T] CANDIDATE [CANDIDATE ...]

Selfies go through intake QA first; the accepted ones that agree on one identity are the
references. ``--colleague`` adds photos of other people of the company (for the blend
check). Each line: ``{"path", "shown", "reasons", "messages", "likeness"}``. Exit status 0
whatever the verdicts; 2 on a usage error (unknown preset, a path that is not a file).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.conformance import tolerances_for
from generation.gates import codes
from generation.gates.candidate import References, candidate_gate
from generation.gates.files import image_from_file, selfie_set_check
from generation.gates.quality import quality_baseline
from generation.looks import PRESETS, look_spec_example

from .check_selfies import existing_files


class Command(BaseCommand):
    help = "Check candidate headshots against selfies and a look (JSON lines on stdout)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("candidates", nargs="+", metavar="CANDIDATE")
        parser.add_argument("--look", required=True, choices=sorted(PRESETS),
                            help="a built-in look preset")
        parser.add_argument("--selfie", action="append", required=True, metavar="PATH",
                            help="one of the person's selfies (repeat for each)")
        parser.add_argument("--colleague", action="append", default=[], metavar="PATH",
                            help="a photo of someone else in the company (repeatable)")
        parser.add_argument("--threshold", type=float, default=None,
                            help="likeness threshold (default: LIKENESS_THRESHOLD)")

    def handle(self, *args, candidates: list[str], look: str, selfie: list[str],
               colleague: list[str], threshold: float | None, **options) -> None:
        candidate_paths = existing_files(candidates, "candidate")
        selfies = selfie_set_check(existing_files(selfie, "selfie"))
        colleagues = selfie_set_check(existing_files(colleague, "colleague")) if colleague \
            else None
        for row in selfies.rows:
            if not row["accepted"]:
                self.stderr.write(f"selfie {row['path']} not used: {', '.join(row['reasons'])}")
        if threshold is not None and not 0.0 < threshold < 2.0:
            raise CommandError("--threshold must be between 0 and 2.", returncode=2)
        spec = look_spec_example(look)
        references = References(
            embeddings=selfies.embeddings, quality=quality_baseline(selfies.qualities),
            colleagues=[] if colleagues is None else [[*e] for e in colleagues.embeddings])
        for path in candidate_paths:
            row = {"path": str(path), "shown": False, "reasons": [], "messages": [],
                   "likeness": None}
            try:
                image = image_from_file(path)
            except (ValueError, OSError) as error:
                row.update(reasons=["unreadable"], messages=[str(error)])
            else:
                verdict = candidate_gate(
                    image, references=references, look=spec, tolerances=tolerances_for(spec),
                    threshold=threshold if threshold is not None
                    else float(settings.LIKENESS_THRESHOLD))
                row.update(shown=verdict.shown, reasons=verdict.reasons,
                           messages=[codes.CANDIDATE_SENTENCES.get(c, c) for c in verdict.reasons],
                           likeness=verdict.likeness)
            self.stdout.write(json.dumps(row))
