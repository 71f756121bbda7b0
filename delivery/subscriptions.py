"""What delivery does when something happens below it (core/events.py), and the personal
data it keeps (privacy/registry.py). Wired up in DeliveryConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterator

from core.events import HEADSHOT_APPROVED, JOB_FAILED, JOB_READY, MEMBER_JOINED, Event, event_subscribe
from privacy.dsr import ExportArchive
from privacy.registry import PersonalData, personal_data_register
from teams.models import Company, Membership

from .directory.services import directory_copy_erase, directory_sync_queue
from .models import DirectorySync
from .webhooks.services import webhook_event_emit

# The events a company's webhook endpoints can subscribe to (delivery/webhooks/services.py).
WEBHOOK_EVENTS = (MEMBER_JOINED, HEADSHOT_APPROVED, JOB_READY, JOB_FAILED)


def webhooks_forward(event: Event) -> None:
    """Every endpoint of the company subscribed to the event gets a delivery (the company
    itself is read only when one does: most have no endpoint)."""
    webhook_event_emit(company=event.company_id, event_type=event.name, data=event.data)


def directories_update(event: Event) -> None:
    """An approved headshot goes to every directory the company connected."""
    company = Company.objects.get(pk=event.company_id)
    membership = Membership.objects.for_company(company).filter(pk=event.data["person"]).first()
    if membership is not None:  # erased in the meantime: nothing to send
        directory_sync_queue(company=company, membership=membership)


def _directory_copies(company: Company, membership: Membership) -> Iterator[DirectorySync]:
    return iter(DirectorySync.objects.for_company(company).filter(membership=membership))


def _export_directory_copies(company: Company, membership: Membership,
                             archive: ExportArchive) -> None:
    """Who received the person's headshot: a recipient of their data."""
    archive.data["directories"] = [
        {"directory": sync.connection.get_provider_display(), "status": sync.status,
         "sent_at": sync.synced_at.isoformat() if sync.synced_at else None}
        for sync in DirectorySync.objects.for_company(company).filter(
            membership=membership).select_related("connection").order_by("pk")]


def register() -> None:
    for name in WEBHOOK_EVENTS:
        event_subscribe(name, webhooks_forward)
    event_subscribe(HEADSHOT_APPROVED, directories_update)
    # Each directory a person's photo went to. Erasure removes the photo there (or tells the
    # person where it could not) and then the record.
    personal_data_register(PersonalData(
        kind="directory_copy", of_person=_directory_copies,
        erase=lambda sync, rule, subject: directory_copy_erase(sync, rule=rule,
                                                               subject_user_id=subject),
        export=_export_directory_copies))
