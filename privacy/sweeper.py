"""The retention sweeper: finds what each company's policy says must go, and deletes it in
bounded chunks (privacy.sweep re-queues itself until a pass finds nothing more).

Each rule is a query for due objects. Within a chunk the rows are claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two sweepers running at once never
work on the same object; every step is idempotent besides (privacy/deletion.py), so a
redelivered chunk repeats safely. The same queries answer the audit command's question
"is anything past its retention?" (``overdue_count``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from generation.models import Candidate, GenerationJob, Headshot, ReviewDecision, Selfie
from teams.models import Company

from .deletion import (
    candidate_delete,
    embedding_clear,
    export_delete,
    headshot_delete,
    job_delete,
    lora_delete,
    orphan_delete,
    selfie_delete,
    selfies_delete,
)
from .models import DataSubjectRequest, DeletionReceipt
from .retention import HARD_CEILING, Policy, policy_for
from .storage import company_dirs, modified_at, storage_walk

log = logging.getLogger(__name__)

OPEN = [GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING, GenerationJob.Status.SCORING]
TERMINAL = [GenerationJob.Status.READY, GenerationJob.Status.FAILED,
            GenerationJob.Status.CANCELLED, GenerationJob.Status.DEAD]
# A file younger than this may belong to a row that is still being committed.
ORPHAN_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class Rule:
    name: str
    due: Callable[[Company, Policy, datetime], QuerySet | None]
    delete: Callable[[object, str], None]
    # Deletes a whole claimed chunk at once, where one-by-one would cost queries per object.
    delete_many: Callable[[list, str], None] | None = None


def _last_finished(model_outer: str = "membership") -> Subquery:
    return Subquery(
        GenerationJob.objects.filter(company_id=OuterRef("company_id"),
                                     membership_id=OuterRef(model_outer),
                                     finished_at__isnull=False)
        .order_by("-finished_at").values("finished_at")[:1])


def _has_open_job() -> Exists:
    return Exists(GenerationJob.objects.filter(company_id=OuterRef("company_id"),
                                               membership_id=OuterRef("membership"),
                                               status__in=OPEN))


def _after_last_job(queryset: QuerySet, cutoff: datetime) -> QuerySet:
    """Rows of people whose last job ended before the cutoff, no job open, and the row
    older than that job (a selfie uploaded for the next job is not "after" the last one)."""
    return (queryset.annotate(last_finished=_last_finished(), has_open=_has_open_job())
            .filter(last_finished__lte=cutoff, last_finished__gte=F("created_at"),
                    has_open=False))


def _headshot_candidates(company: Company) -> QuerySet:
    return Headshot.objects.for_company(company).values("candidate_id")


def _selfies_after_last_job(company: Company, policy: Policy, now: datetime) -> QuerySet:
    cutoff = now - policy.hours("selfies_after_last_job_hours")
    return _after_last_job(Selfie.objects.for_company(company), cutoff)


def _selfies_max(company: Company, policy: Policy, now: datetime) -> QuerySet:
    return Selfie.objects.for_company(company).filter(
        created_at__lte=now - policy.hours("selfies_max_hours"))


def _selfie_embeddings(company: Company, policy: Policy, now: datetime) -> QuerySet:
    cutoff = now - policy.hours("embeddings_after_last_job_hours")
    return _after_last_job(
        Selfie.objects.for_company(company).filter(face_embedding__isnull=False), cutoff)


def _candidate_embeddings(company: Company, policy: Policy, now: datetime) -> QuerySet:
    cutoff = now - policy.hours("embeddings_after_last_job_hours")
    return Candidate.objects.for_company(company).filter(
        face_embedding__isnull=False, job__finished_at__lte=cutoff)


def _rejected_candidates(company: Company, policy: Policy, now: datetime) -> QuerySet:
    rejected_in_review = ReviewDecision.objects.filter(
        company_id=OuterRef("company_id"), candidate_id=OuterRef("pk"),
        action=ReviewDecision.Action.REJECT)
    return (Candidate.objects.for_company(company)
            .filter(Q(visible=False) | Q(Exists(rejected_in_review)),
                    created_at__lte=now - policy.hours("rejected_candidates_hours"))
            .exclude(pk__in=_headshot_candidates(company)))


def _unchosen_candidates(company: Company, policy: Policy, now: datetime) -> QuerySet:
    return (Candidate.objects.for_company(company)
            .filter(visible=True, is_favourite=False,
                    created_at__lte=now - policy.hours("unchosen_candidates_hours"))
            .exclude(pk__in=_headshot_candidates(company)))


def _kept_limit(policy: Policy) -> timedelta:
    return policy.hours("headshots_hours") or HARD_CEILING


def _favourites(company: Company, policy: Policy, now: datetime) -> QuerySet:
    """A pick not yet approved is kept like a headshot, and never past the same limit."""
    return (Candidate.objects.for_company(company)
            .filter(is_favourite=True, created_at__lte=now - _kept_limit(policy))
            .exclude(pk__in=_headshot_candidates(company)))


def _headshots(company: Company, policy: Policy, now: datetime) -> QuerySet:
    return Headshot.objects.for_company(company).filter(
        approved_at__lte=now - _kept_limit(policy))


def _job_records(company: Company, policy: Policy, now: datetime) -> QuerySet:
    return (GenerationJob.objects.for_company(company)
            .filter(status__in=TERMINAL,
                    finished_at__lte=now - policy.hours("job_records_hours"))
            .exclude(candidates__in=Candidate.objects.filter(
                company=company, pk__in=_headshot_candidates(company))))


def _exports(company: Company, policy: Policy, now: datetime) -> QuerySet:
    return DataSubjectRequest.objects.for_company(company).exclude(export_key="").filter(
        Q(export_expires_at__lte=now)
        | Q(completed_at__lte=now - policy.hours("exports_hours")))


def _audit_receipts(company: Company, policy: Policy, now: datetime) -> QuerySet:
    return DeletionReceipt.objects.for_company(company).filter(
        deleted_at__lte=now - policy.hours("audit_log_hours"))


def _audit_requests(company: Company, policy: Policy, now: datetime) -> QuerySet:
    return DataSubjectRequest.objects.for_company(company).filter(
        completed_at__lte=now - policy.hours("audit_log_hours"), export_key="")


def _audit_reviews(company: Company, policy: Policy, now: datetime) -> QuerySet:
    return ReviewDecision.objects.for_company(company).filter(
        created_at__lte=now - policy.hours("audit_log_hours"))


def _row_delete(obj, rule: str) -> None:
    # Audit rows hold no files and no face data: they simply go (no receipt for a receipt).
    type(obj).objects.for_company(obj.company_id).filter(pk=obj.pk).delete()


RULES: tuple[Rule, ...] = (
    # Headshots before the photos and jobs they protect.
    Rule("headshots", _headshots, lambda o, r: headshot_delete(o, rule=r)),
    Rule("selfies.max_age", _selfies_max, lambda o, r: selfie_delete(o, rule=r),
         lambda objs, r: selfies_delete(objs, rule=r)),
    Rule("selfies.after_last_job", _selfies_after_last_job, lambda o, r: selfie_delete(o, rule=r),
         lambda objs, r: selfies_delete(objs, rule=r)),
    Rule("embeddings.selfie", _selfie_embeddings, lambda o, r: embedding_clear(o, rule=r)),
    Rule("embeddings.candidate", _candidate_embeddings, lambda o, r: embedding_clear(o, rule=r)),
    Rule("candidates.rejected", _rejected_candidates, lambda o, r: candidate_delete(o, rule=r)),
    Rule("candidates.unchosen", _unchosen_candidates, lambda o, r: candidate_delete(o, rule=r)),
    Rule("candidates.favourite", _favourites, lambda o, r: candidate_delete(o, rule=r)),
    Rule("jobs", _job_records, lambda o, r: job_delete(o, rule=r)),
    Rule("exports", _exports, lambda o, r: export_delete(o, rule=r)),
    Rule("audit.receipts", _audit_receipts, _row_delete),
    Rule("audit.requests", _audit_requests, _row_delete),
    Rule("audit.reviews", _audit_reviews, _row_delete),
)


def _claim(queryset: QuerySet, company: Company, limit: int) -> list:
    """Lock up to `limit` due rows that no other sweeper holds (PostgreSQL), or just read
    them (SQLite, where the embedded default runs a single in-process worker)."""
    queryset = queryset.order_by("pk")
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
    for company in _companies():
        policy = policy_for(company)
        for rule in RULES:
            if budget <= 0:
                result.more = True
                return result
            with transaction.atomic():
                claimed = _claim(rule.due(company, policy, now), company, budget)
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
    orphans, lora = files_sweep(now=now, limit=budget)
    result.deleted["files.orphan"] += orphans
    result.deleted["lora.after_delivery"] += lora
    result.more = orphans + lora >= budget > 0
    return result


@dataclass(frozen=True)
class FileFinding:
    key: str
    company_id: int
    problem: str  # "unknown" or "lora past retention"


def _known_keys(company_id: int, area: str) -> set[str]:
    if area == "selfies":
        rows = Selfie.objects.filter(company_id=company_id).values_list("image_key", "thumb_key")
    elif area == "candidates":
        rows = Candidate.objects.filter(company_id=company_id).values_list("image_key",
                                                                          "thumb_key")
    elif area == "exports":
        rows = DataSubjectRequest.objects.filter(company_id=company_id).exclude(
            export_key="").values_list("export_key", "export_key")
    else:
        return set()
    return {key for pair in rows for key in pair if key}


def _lora_job_state(company_id: int, job_id: int) -> tuple[str | None, datetime | None]:
    row = (GenerationJob.objects.filter(company_id=company_id, pk=job_id)
           .values_list("status", "finished_at").first())
    return row if row else (None, None)


def files_scan(*, now: datetime, grace: timedelta = ORPHAN_GRACE) -> Iterator[FileFinding]:
    """Files in storage that no row knows (older than `grace`), and LoRA weights kept past
    their rule. Memory: one company's known keys at a time."""
    companies = set(Company.objects.values_list("pk", flat=True))
    for directory in company_dirs():
        known = _known_keys(directory.company_id, directory.area)
        policy = policy_for(directory.company_id) if directory.company_id in companies else None
        for key in storage_walk(directory.prefix):
            if directory.area == "lora" and policy is not None:
                job_part = key.split("/")[2]  # lora/c<id>/j<job>/file
                job_id = int(job_part[1:]) if job_part[1:].isdigit() else -1
                status, finished = _lora_job_state(directory.company_id, job_id)
                if status is not None:
                    limit = policy.hours("lora_after_delivery_hours")
                    if status in TERMINAL and finished and finished <= now - limit:
                        yield FileFinding(key, directory.company_id, "lora past retention")
                    continue
            elif key in known:
                continue
            modified = modified_at(key)
            if modified is None or modified <= now - grace:
                yield FileFinding(key, directory.company_id, "unknown")


def files_sweep(*, now: datetime, limit: int) -> tuple[int, int]:
    """Delete what files_scan finds, with receipts; (orphans, lora weights) deleted."""
    orphans = lora = 0
    companies = set(Company.objects.values_list("pk", flat=True))
    lora_jobs_done: set[tuple[int, str]] = set()
    for finding in files_scan(now=now):
        if orphans + lora >= limit:
            break
        if finding.company_id not in companies:
            # No company row to hang a receipt on (companies are closed, never deleted,
            # so this is debris from outside the platform): delete and log.
            from .storage import storage_delete

            storage_delete(finding.key)
            log.warning("deleted a file of unknown company %s", finding.company_id)
            orphans += 1
        elif finding.problem == "unknown":
            orphan_delete(company_id=finding.company_id, key=finding.key, rule="retention.orphan")
            orphans += 1
        else:
            job_part = finding.key.split("/")[2]
            if (finding.company_id, job_part) in lora_jobs_done:
                continue
            lora_jobs_done.add((finding.company_id, job_part))
            job_id = int(job_part[1:])
            subject = (GenerationJob.objects.filter(company_id=finding.company_id, pk=job_id)
                       .values_list("membership__user_id", flat=True).first())
            lora_delete(company_id=finding.company_id, job_id=job_id,
                        rule="retention.lora.after_delivery", subject_user_id=subject)
            lora += 1
    return orphans, lora


def overdue_count(*, now: datetime | None = None) -> Counter:
    """Per rule, how many objects are past their retention right now (for the audit)."""
    now = now or timezone.now()
    counts: Counter = Counter()
    for company in _companies():
        policy = policy_for(company)
        for rule in RULES:
            found = rule.due(company, policy, now).count()
            if found:
                counts[rule.name] += found
    return counts
