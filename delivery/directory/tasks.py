"""The directory write-back task: one person's approved headshot to one directory."""

from __future__ import annotations

from celery import shared_task

from core.retry import jittered
from core.rls import company_of, company_task

from ..models import DirectorySync
from .sync import RetryLater, directory_sync_give_up, directory_sync_run


# The name is kept from when this lived in generation/: messages already queued carry it.
@shared_task(bind=True, name="generation.directory_sync", max_retries=8)
@company_task(lambda self, sync_id, *args, **kwargs: company_of(DirectorySync, pk=sync_id))
def directory_sync(self, sync_id: int) -> str:
    """Send one approved headshot to one directory; a throttled or briefly failing
    directory is retried with backoff and jitter (honouring its Retry-After)."""
    try:
        return directory_sync_run(sync_id=sync_id)
    except RetryLater as later:
        if self.request.is_eager:
            return "pending"  # in-process (eager mode): "Sync now" on the page retries
        if self.request.retries >= self.max_retries:
            directory_sync_give_up(sync_id=sync_id, reason="The directory kept refusing; "
                                                           "try again later from the page.")
            return "failed"
        backoff = min(2 ** self.request.retries * 30, 3600)
        raise self.retry(countdown=max(later.retry_after or 0, jittered(backoff))) from None
