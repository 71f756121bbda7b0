"""Sending one person's photo to one directory (the worker's side of write-back): a
DirectorySync row is claimed once, and retried while the directory says "later"
(delivery/directory/tasks.py). services.py queues them."""

from __future__ import annotations

import logging

from django.utils import timezone

from generation.models import Candidate
from generation.selectors import headshots_that_may_leave

from ..models import DirectorySync
from ..variants import Variant, variant_render, variant_url
from . import DirectoryError, UserNotFound, connector_for

log = logging.getLogger(__name__)
Status = DirectorySync.Status
# Directories show square photos; 1024 px is within every provider's limit once encoded.
DIRECTORY_VARIANT = Variant(size=1024, shape="square", format="jpeg")
# Directories that fetch the photo themselves (Slack) get a link that lasts this long: they
# fetch it as they process the change.
PHOTO_LINK_TTL_SECONDS = 3600


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
    headshot = headshots_that_may_leave(company=company_id).filter(
        membership_id=sync.membership_id).first()
    if headshot is None:
        _finish(sync, Status.FAILED, error="There is no approved headshot to send any more.")
        return Status.FAILED
    candidate = Candidate.objects.for_company(company_id).get(pk=headshot.candidate_id)
    try:
        external_id = connector_for(sync.connection).push_photo(
            email=sync.membership.user.email, jpeg=variant_render(candidate, DIRECTORY_VARIANT),
            url=variant_url(headshot, DIRECTORY_VARIANT, ttl=PHOTO_LINK_TTL_SECONDS))
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
