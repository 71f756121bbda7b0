"""Keeping people's photos in the company's directories: queued on approval and on demand,
one DirectorySync row per person and directory, claimed once, retried while the directory
says "later"."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from generation.models import Candidate, Headshot
from teams.models import Company, Membership

from ..models import DirectoryConnection, DirectorySync
from ..variants import Variant, variant_render
from .base import DirectoryError, UserNotFound, connector_for

log = logging.getLogger(__name__)
Status = DirectorySync.Status
# Directories show square photos; 1024 px is within every provider's limit once encoded.
DIRECTORY_VARIANT = Variant(size=1024, shape="square", format="jpeg")


def directory_sync_queue(*, company: Company, membership: Membership) -> list[DirectorySync]:
    """Mark the person's photo as due in every enabled directory; sent after commit."""
    from .tasks import directory_sync

    syncs = []
    for connection in DirectoryConnection.objects.for_company(company).filter(enabled=True):
        sync, _ = DirectorySync.objects.for_company(company).update_or_create(
            company=company, connection=connection, membership=membership,
            defaults={"status": Status.PENDING, "attempts": 0, "last_error": "",
                      "updated_at": timezone.now()})
        syncs.append(sync)
    for sync in syncs:
        transaction.on_commit(lambda pk=sync.pk: directory_sync.delay(pk))
    return syncs


def directory_sync_all(*, company: Company, actor: Membership) -> int:
    """On demand: everyone with an approved headshot, in every enabled directory."""
    if actor.company_id != company.pk or not actor.is_admin:
        raise NotAllowed("Only the company's admins can sync directories.")
    if not DirectoryConnection.objects.for_company(company).filter(enabled=True).exists():
        raise ServiceError("Connect a directory first.")
    people = Membership.objects.for_company(company).filter(
        pk__in=Headshot.objects.for_company(company).values("membership_id"))
    count = 0
    with transaction.atomic():
        for person in people:
            count += len(directory_sync_queue(company=company, membership=person))
    return count


class RetryLater(Exception):
    """The directory asked us to come back (throttled or briefly down)."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("retry later")
        self.retry_after = retry_after


def directory_sync_run(*, sync_id: int) -> str:
    """Send one person's photo to one directory. Idempotent: only a pending sync is
    claimed, and a photo sent twice is the same photo."""
    row = DirectorySync.objects.unscoped().filter(pk=sync_id).values_list(  # id from the task
        "company_id", flat=True).first()
    if row is None:
        return "gone"
    company_id = row
    claimed = DirectorySync.objects.for_company(company_id).filter(
        pk=sync_id, status=Status.PENDING).update(status=Status.RUNNING,
                                                  updated_at=timezone.now())
    if not claimed:
        return "not pending"
    sync = DirectorySync.objects.for_company(company_id).select_related(
        "connection", "membership__user").get(pk=sync_id)
    headshot = Headshot.objects.for_company(company_id).filter(
        membership_id=sync.membership_id).first()
    if headshot is None:
        _finish(sync, Status.FAILED, error="There is no approved headshot to send any more.")
        return Status.FAILED
    candidate = Candidate.objects.for_company(company_id).get(pk=headshot.candidate_id)
    try:
        external_id = connector_for(sync.connection).push_photo(
            email=sync.membership.user.email, jpeg=variant_render(candidate, DIRECTORY_VARIANT))
    except UserNotFound as error:
        _finish(sync, Status.NOT_FOUND, error=str(error))
        return Status.NOT_FOUND
    except DirectoryError as error:
        if error.transient:
            DirectorySync.objects.for_company(company_id).filter(pk=sync.pk).update(
                status=Status.PENDING, attempts=sync.attempts + 1, last_error=str(error)[:500],
                updated_at=timezone.now())
            raise RetryLater(getattr(error, "retry_after", None)) from error
        _finish(sync, Status.FAILED, error=str(error))
        return Status.FAILED
    DirectorySync.objects.for_company(company_id).filter(pk=sync.pk).update(
        status=Status.SYNCED, external_id=external_id[:200], last_error="",
        headshot_candidate_id=candidate.pk, synced_at=timezone.now(), updated_at=timezone.now(),
        attempts=sync.attempts + 1)
    return Status.SYNCED


def directory_sync_give_up(*, sync_id: int, reason: str) -> None:
    DirectorySync.objects.unscoped().filter(pk=sync_id, status=Status.PENDING).update(
        status=Status.FAILED, last_error=reason[:500], updated_at=timezone.now())


def _finish(sync: DirectorySync, status: str, *, error: str = "") -> None:
    DirectorySync.objects.for_company(sync.company_id).filter(pk=sync.pk).update(
        status=status, last_error=error[:500], attempts=sync.attempts + 1,
        updated_at=timezone.now())


def directory_connection_save(*, company: Company, actor: Membership, provider: str,
                              config: dict, enabled: bool = True) -> DirectoryConnection:
    if actor.company_id != company.pk or not actor.is_admin:
        raise NotAllowed("Only the company's admins can connect directories.")
    if provider not in DirectoryConnection.Provider.values:
        raise ServiceError("Unknown directory.")
    connection, _ = DirectoryConnection.objects.for_company(company).update_or_create(
        company=company, provider=provider, defaults={"config": config, "enabled": enabled})
    return connection
