"""Intake QA of one person's selfies, as the product applies it: one JSON line per photo.

    python manage.py check_selfies PATH [PATH ...]

Each line: ``{"path", "accepted", "reasons", "messages"}`` (reasons are codes such as
``second_person``, ``different_person``; messages are what the person reads). Exit status 0
whatever the verdicts; 2 on a usage error (no path, a path that is not a file).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.gates.files import selfie_set_check


def existing_files(values: list[str], what: str) -> list[Path]:
    paths = [Path(v) for v in values]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise CommandError(f"No such {what} file: {', '.join(missing)}", returncode=2)
    return paths


class Command(BaseCommand):
    help = "Check one person's selfies as intake does (JSON lines on stdout)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="the person's selfies")

    def handle(self, *args, paths: list[str], **options) -> None:
        checked = selfie_set_check(existing_files(paths, "selfie"))
        for row in checked.rows:
            row.pop("metrics", None)
            self.stdout.write(json.dumps(row))
