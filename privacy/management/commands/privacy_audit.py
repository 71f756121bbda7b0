from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.rls import rls_bypass
from privacy.storage import key_sha256
from privacy.sweeper import ORPHAN_GRACE, files_scan, overdue_count


class Command(BaseCommand):
    help = ("Scan storage for files the database does not know and the database for anything "
            "past its retention; exits non-zero when it finds either.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace-minutes", type=int, default=int(ORPHAN_GRACE.total_seconds() // 60),
            help="Ignore unknown files younger than this (an upload whose row is still being "
                 "committed). Default: %(default)s.")

    @rls_bypass("operator command: audits storage and rows of every company")
    def handle(self, *args: object, **options: int) -> None:
        now = timezone.now()
        problems = 0
        for finding in files_scan(now=now, grace=timedelta(minutes=options["grace_minutes"])):
            problems += 1
            # The key names the company and person folders; print its hash like the receipts.
            self.stderr.write(f"company {finding.company_id}: file {key_sha256(finding.key)[:16]}"
                              f" ({finding.key.split('/')[0]}/): {finding.problem}")
        for rule, count in sorted(overdue_count(now=now).items()):
            problems += count
            self.stderr.write(f"{count} object(s) past retention under rule {rule}")
        if problems:
            raise CommandError(f"Privacy audit failed: {problems} finding(s). "
                               "Run the sweeper (manage.py privacy_sweep) and audit again.")
        self.stdout.write(self.style.SUCCESS("Privacy audit clean: every stored file is known "
                                             "and nothing is past its retention."))
