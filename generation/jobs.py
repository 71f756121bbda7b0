"""The generation job's state machine: the only way a job's status changes.

queued → running → scoring → ready, or failed / cancelled from any open state.
A running job may go back to queued when it is handed to another backend, and a scoring
job when it needs more candidates for a good likeness.
Every change is one conditional UPDATE, so two workers racing for the same job
cannot both win, and an illegal move is refused instead of overwriting state.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connections, router
from django.db.models import F, Q
from django.utils import timezone

from .models import GenerationJob

Status = GenerationJob.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED, Status.CANCELLED, Status.DEAD}),
    Status.RUNNING: frozenset({Status.SCORING, Status.QUEUED, Status.FAILED, Status.CANCELLED,
                               Status.DEAD}),
    # Back to queued: scoring found too few good likenesses and asks for more seeds.
    Status.SCORING: frozenset({Status.READY, Status.QUEUED, Status.FAILED, Status.CANCELLED}),
    Status.READY: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.DEAD: frozenset(),
}
TERMINAL = frozenset({Status.READY, Status.FAILED, Status.CANCELLED, Status.DEAD})
OPEN = frozenset({Status.QUEUED, Status.RUNNING, Status.SCORING})


class IllegalTransition(Exception):
    pass


def job_refresh(job: GenerationJob, *, fresh: GenerationJob | None = None) -> None:
    """Re-read the job (or take ``fresh``, the row an ``UPDATE … RETURNING`` gave back),
    keeping its look version and company loaded: a version never changes (an edit makes a
    new one) and a job never changes company, so the runner and scoring need not fetch them
    again after each of the job's state changes (``refresh_from_db`` forgets every related
    row it had). The company's settings are therefore those read when the task took the
    job (a threshold changed meanwhile applies from the job's next scoring)."""
    kept = {}
    for name in ("look_version", "company"):
        field = GenerationJob._meta.get_field(name)
        if field.is_cached(job):
            kept[field] = field.get_cached_value(job)
    if fresh is None:
        job.refresh_from_db()
    else:
        _load(job, fresh)
    for field, value in kept.items():
        if value is not None and value.pk == getattr(job, field.attname):
            field.set_cached_value(job, value)


def _load(job: GenerationJob, fresh: GenerationJob) -> None:
    """What ``refresh_from_db`` does with the row it reads, for a row already read."""
    job._prefetched_objects_cache = {}
    for field in GenerationJob._meta.concrete_fields:
        setattr(job, field.attname, getattr(fresh, field.attname))
        if field.is_relation and field.is_cached(job):
            field.delete_cached_value(job)
    for relation in GenerationJob._meta.related_objects:
        if relation.is_cached(job):
            relation.delete_cached_value(job)
    job._state.db = fresh._state.db


def _update_and_load(job: GenerationJob, matching, **updates: Any) -> bool:
    """UPDATE the job where ``matching`` (a queryset of its row) still finds it; True if it
    did. The job then holds the row as it now stands: from the same statement where the
    database returns rows from an UPDATE (one round trip, not an UPDATE and a SELECT),
    read again where it cannot or where nothing matched."""
    rows = matching.update_returning(**updates)
    if rows:
        job_refresh(job, fresh=rows[0])
        return True
    changed = bool(matching.update(**updates)) if rows is None else False
    job_refresh(job)
    return changed


def job_transition(job: GenerationJob, to: str, **fields: Any) -> bool:
    """Move ``job`` to ``to`` if its current state allows it. Returns False if it lost a race.

    Raises IllegalTransition when the move is never allowed from the state the
    job is in (e.g. ready → running).
    """
    allowed_from = [state for state, targets in TRANSITIONS.items() if to in targets]
    now = timezone.now()
    updates: dict[str, Any] = {"status": to, "updated_at": now, **fields}
    if to in TERMINAL:
        updates.setdefault("finished_at", now)
        updates.setdefault("lease_until", None)
    if _update_and_load(job, GenerationJob.objects.for_company(job.company_id).filter(
            pk=job.pk, status__in=allowed_from), **updates):
        return True
    if to not in TRANSITIONS[job.status] and job.status != to:
        raise IllegalTransition(f"A {job.get_status_display().lower()} job cannot become {to}.")
    return False


def job_claim(job: GenerationJob, *, lease: timedelta) -> bool:
    """Take a job for this worker: queued, or running with an expired lease (its worker died)."""
    now = timezone.now()
    return _update_and_load(job, GenerationJob.objects.for_company(job.company_id).filter(
        Q(status=Status.QUEUED) | Q(status=Status.RUNNING, lease_until__lt=now)
        | Q(status=Status.RUNNING, lease_until__isnull=True),
        pk=job.pk,
    ), status=Status.RUNNING, lease_until=now + lease, attempts=F("attempts") + 1,
        started_at=now, updated_at=now)


def job_claim_scoring(job: GenerationJob, *, lease: timedelta) -> bool:
    """Take over a job whose worker died while scoring it: its photos are all stored, its
    lease ran out (or, from before scoring held a lease, it has not moved for one)."""
    now = timezone.now()
    return _update_and_load(job, GenerationJob.objects.for_company(job.company_id).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, updated_at__lt=now - lease),
        pk=job.pk, status=Status.SCORING,
    ), lease_until=now + lease, attempts=F("attempts") + 1, updated_at=now)


def job_lease_renew(job: GenerationJob, *, lease: timedelta) -> bool:
    """Keep holding a running job; False if it was cancelled or taken meanwhile."""
    now = timezone.now()
    return bool(GenerationJob.objects.for_company(job.company_id).filter(
        pk=job.pk, status=Status.RUNNING
    ).update(lease_until=now + lease, updated_at=now))


def job_hold(job: GenerationJob, *, lease: timedelta) -> str | None:
    """Renew the lease of a running job and say the job's status (None: it is gone), in one
    statement: the runner's check that a photo may still be stored (not cancelled) and its
    lease renewal are one round trip per photo, not two.

    Raw SQL because the ORM's UPDATE says how many rows it changed, not what they held. The
    row of a job that is not running is matched and written unchanged (the CASEs keep its
    lease and its time of change), so that its status can be returned.
    """
    now = timezone.now()
    connection = connections[router.db_for_write(GenerationJob)]
    meta, quote = GenerationJob._meta, connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    status, lease_until, updated_at = column("status"), column("lease_until"), column("updated_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET"
            f" {lease_until} = CASE WHEN {status} = %s THEN %s ELSE {lease_until} END,"
            f" {updated_at} = CASE WHEN {status} = %s THEN %s ELSE {updated_at} END"
            f" WHERE {column('company')} = %s AND {quote(meta.pk.column)} = %s"
            f" RETURNING {status}",
            [Status.RUNNING, connection.ops.adapt_datetimefield_value(now + lease),
             Status.RUNNING, connection.ops.adapt_datetimefield_value(now),
             job.company_id, job.pk])
        row = cursor.fetchone()
    return None if row is None else row[0]
