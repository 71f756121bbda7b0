"""Keeping people's photos in the company's directories: the connections an admin saves,
and the photos queued on approval (core/events.py ``headshot.approved``) and on demand, one
DirectorySync row per person and directory, sent after commit by the directory task."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.errors import ServiceError
from generation.selectors import headshots_that_may_leave
from privacy.deletion import receipt_write
from privacy.registry import ExternalCopyKept
from teams.models import Company, Membership
from teams.services.companies import company_admin_required

from ..models import DirectoryConnection, DirectorySync
from . import DirectoryError, UserNotFound, connector_for
from .tasks import directory_sync

Status = DirectorySync.Status


def directory_sync_queue(*, company: Company, membership: Membership) -> list[DirectorySync]:
    """Mark the person's photo as due in every enabled directory; sent after commit."""
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
    company_admin_required(actor=actor, company=company, to="sync directories")
    if not DirectoryConnection.objects.for_company(company).filter(enabled=True).exists():
        raise ServiceError("Connect a directory first.")
    people = Membership.objects.for_company(company).filter(
        pk__in=headshots_that_may_leave(company=company).values("membership_id"))
    count = 0
    with transaction.atomic():
        for person in people:
            count += len(directory_sync_queue(company=company, membership=person))
    return count


def directory_connection_save(*, company: Company, actor: Membership, provider: str,
                              config: dict, enabled: bool = True) -> DirectoryConnection:
    company_admin_required(actor=actor, company=company, to="connect directories")
    if provider not in DirectoryConnection.Provider.values:
        raise ServiceError("Unknown directory.")
    connection, _ = DirectoryConnection.objects.for_company(company).update_or_create(
        company=company, provider=provider, defaults={"config": config, "enabled": enabled})
    return connection


def directory_copy_erase(sync: DirectorySync, *, rule: str, subject_user_id: int | None) -> None:
    """Erasure of the person's photo in one directory: removed there when we sent one, then
    our record of it goes, with a receipt. A directory that will not remove it (Slack has no
    way to; or the credentials no longer work) gets a receipt saying so, and the person is
    told where their photo remains (privacy.registry.ExternalCopyKept)."""
    sync = DirectorySync.objects.for_company(sync.company_id).select_related(
        "connection", "membership__user").filter(pk=sync.pk).first()
    if sync is None:
        return
    problem = ""
    if sync.status == Status.SYNCED or sync.headshot_candidate_id is not None:
        try:
            connector_for(sync.connection, erasing=True).remove_photo(
                email=sync.membership.user.email, external_id=sync.external_id)
        except UserNotFound:
            pass  # nobody there to hold the photo
        except DirectoryError as error:
            problem = error.message
    with transaction.atomic():
        DirectorySync.objects.for_company(sync.company_id).filter(pk=sync.pk).delete()
        receipt_write(company_id=sync.company_id,
                      kind="directory_copy_kept" if problem else "directory_copy",
                      object_ref=f"directory:{sync.connection.provider}:sync:{sync.pk}",
                      subject_user_id=subject_user_id, rule=rule)
    if problem:
        raise ExternalCopyKept(where=sync.connection.get_provider_display(), reason=problem)
