"""Run the gates on candidates scored before the gates existed (``gates_passed`` false, no
reasons stored): until then every exit keeps them in, approved headshots included.

    python manage.py rescore_candidates [--company SLUG] [--dry-run]

One JSON line per job: ``{"job", "company", "scored", "shown"}``. Exit 0; 2 on a usage error.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from core.rls import rls_bypass
from generation.models import Candidate, GenerationJob
from generation.scoring import job_score
from teams.models import Company


class Command(BaseCommand):
    help = "Score candidates stored before the gates existed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--company", metavar="SLUG", help="only this company")
        parser.add_argument("--dry-run", action="store_true", help="only count them")

    @rls_bypass("operator command: rescores candidates of one or every company")
    def handle(self, *args, company: str | None, dry_run: bool, **options) -> None:
        companies = Company.objects.all()
        if company:
            companies = companies.filter(slug=company)
            if not companies.exists():
                raise CommandError(f"No company {company!r}.", returncode=2)
        for each in companies.order_by("pk"):
            stale = Candidate.objects.for_company(each).filter(
                scored_at__isnull=False, gates_passed=False, gate_reasons=[])
            for job in GenerationJob.objects.for_company(each).filter(
                    pk__in=stale.values("job_id")).select_related("look_version", "company"):
                candidates = list(stale.filter(job=job))
                if not dry_run:
                    Candidate.objects.for_company(each).filter(
                        pk__in=[c.pk for c in candidates]).update(scored_at=None)
                    for candidate in candidates:
                        candidate.scored_at = None
                    outcome = job_score(job, candidates)
                    shown = outcome.shown
                else:
                    shown = None
                self.stdout.write(json.dumps({"job": job.pk, "company": each.slug,
                                              "scored": len(candidates), "shown": shown}))
