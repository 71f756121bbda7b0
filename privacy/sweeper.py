"""The retention sweeper: finds what each company's policy says must go, and deletes it in
bounded chunks (privacy.sweep re-queues itself until a pass finds nothing more).

The rules come from the registry (privacy/registry.py): each names the clock it follows
(a field of the company's Policy) and finds what is past the cutoff. Within a chunk the
rows are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two sweepers
running at once never work on the same object; every step is idempotent besides
(privacy/deletion.py), so a redelivered chunk repeats safely. Then storage is walked area by
area (core/storage.py): a file no registered kind of data accounts for is an orphan. The
same queries answer the audit command's question "is anything past its retention?"
(``overdue_count``).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from teams.models import Company

from .deletion import orphans_delete
from .registry import RetentionRule, personal_data, retention_rules
from .retention import HARD_CEILING, Policy, policy_for
from .storage import company_dirs, modified_at, storage_delete_many, storage_walk

log = logging.getLogger(__name__)
# A file younger than this may belong to a row that is still being committed.
ORPHAN_GRACE = timedelta(hours=1)


def _due(rule: RetentionRule, company: Company, policy: Policy, now: datetime):
    """What ``rule`` finds past its cutoff. A clock without a period (headshots kept while
    a member) still ends at the hard ceiling."""
    period = policy.hours(rule.clock)
    return rule.due(company, now - (period if period is not None else HARD_CEILING))


def _claim(due, company: Company, limit: int) -> list:
    """Lock up to `limit` due rows that no other sweeper holds (PostgreSQL), or just read
    them (SQLite, where the embedded default runs a single worker process). What is not
    a queryset (files) is taken as it is: deleting it twice does no harm."""
    if not isinstance(due, QuerySet):
        return list(islice(due, limit))
    queryset = due.order_by("pk")
    if not connection.features.has_select_for_update_skip_locked:
        return list(queryset[:limit])
    # FOR UPDATE cannot lock a query with aggregates or DISTINCT: lock by primary key.
    pks = list(queryset.values_list("pk", flat=True)[:limit])
    return list(queryset.model.objects.filter(company=company, pk__in=pks)
                .select_for_update(skip_locked=True).order_by("pk"))


@dataclass
class SweepResult:
    deleted: Counter = field(default_factory=Counter)
    more: bool = False

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _companies() -> Iterator[Company]:
    yield from Company.objects.order_by("pk").iterator()


def retention_sweep(*, now: datetime | None = None, limit: int = 200) -> SweepResult:
    """One bounded chunk: at most `limit` deletions over all rules and companies.

    `more` says a chunk was full and the task should run again straight away.
    """
    now = now or timezone.now()
    result = SweepResult()
    budget = limit
    rules = retention_rules()
    for company in _companies():
        policy = policy_for(company)
        for rule in rules:
            if budget <= 0:
                result.more = True
                return result
            with transaction.atomic():
                claimed = _claim(_due(rule, company, policy, now), company, budget)
                if rule.delete_many is not None:
                    rule.delete_many(claimed, f"retention.{rule.name}")
                else:
                    for obj in claimed:
                        rule.delete(obj, f"retention.{rule.name}")
            result.deleted[rule.name] += len(claimed)
            budget -= len(claimed)
            if len(claimed) and budget <= 0:
                result.more = True
                return result
    orphans = files_sweep(now=now, limit=budget)
    result.deleted["files.orphan"] += orphans
    result.more = orphans >= budget > 0
    return result


@dataclass(frozen=True)
class FileFinding:
    key: str
    company_id: int
    problem: str = "unknown"


class _Known(Container[str]):
    """The keys one company's rows account for in one area, over every kind stored there."""

    def __init__(self, company_id: int, area: str) -> None:
        self.parts = [data.known_keys(company_id) for data in personal_data()
                      if data.files is not None and data.files.area == area and data.known_keys]

    def __contains__(self, key: object) -> bool:
        return any(key in part for part in self.parts)


def files_scan(*, now: datetime, grace: timedelta = ORPHAN_GRACE) -> Iterator[FileFinding]:
    """Files in storage that no row knows, older than `grace`. Memory: one company's known
    keys in one area at a time."""
    for directory in company_dirs():
        known = _Known(directory.company_id, directory.area.area)
        for key in storage_walk(directory.prefix):
            if key in known:
                continue
            modified = modified_at(key)
            if modified is None or modified <= now - grace:
                yield FileFinding(key, directory.company_id)


def files_sweep(*, now: datetime, limit: int) -> int:
    """Delete what files_scan finds, with receipts; how many files went. Found first (up to
    ``limit``), then deleted per company in batches (one S3 request per 1,000 keys)."""
    companies = set(Company.objects.values_list("pk", flat=True))
    found: dict[int, list[str]] = defaultdict(list)
    count = 0
    for finding in files_scan(now=now):
        if count >= limit:
            break
        found[finding.company_id].append(finding.key)
        count += 1
    for company_id, keys in found.items():
        if company_id not in companies:
            # No company row to hang a receipt on (companies are closed, never deleted,
            # so this is debris from outside the platform): delete and log.
            storage_delete_many(keys)
            log.warning("deleted %s file(s) of unknown company %s", len(keys), company_id)
        else:
            orphans_delete(company_id=company_id, keys=keys, rule="retention.orphan")
    return count


def overdue_count(*, now: datetime | None = None) -> Counter:
    """Per rule, how many objects are past their retention right now (for the audit)."""
    now = now or timezone.now()
    counts: Counter = Counter()
    rules = retention_rules()
    for company in _companies():
        policy = policy_for(company)
        for rule in rules:
            due = _due(rule, company, policy, now)
            found = due.count() if isinstance(due, QuerySet) else sum(1 for _ in due)
            if found:
                counts[rule.name] += found
    return counts
