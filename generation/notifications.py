"""E-mails to the person when an admin decides on their headshot: approved (with where to
download it) or rejected (with the admin's reason and where to pick again). Sent by event
handlers, so only a committed decision is ever announced."""

from __future__ import annotations

from core.emails import email_send
from core.events import HEADSHOT_APPROVED, HEADSHOT_REJECTED, Event, event_subscribe
from teams.models import Membership

from .models import ReviewDecision


def _person(event: Event) -> Membership | None:
    return Membership.objects.for_company(event.company_id).select_related(
        "user", "company").filter(pk=event.data.get("person")).first()


def headshot_approved_email(event: Event) -> None:
    membership = _person(event)
    if membership is None:  # erased since: nobody to tell
        return
    email_send(to=membership.user.email, template="headshot_approved",
               context={"membership": membership, "company": membership.company})


def headshot_rejected_email(event: Event) -> None:
    membership = _person(event)
    decision = ReviewDecision.objects.for_company(event.company_id).filter(
        pk=event.data.get("decision")).first()
    if membership is None or decision is None:
        return
    email_send(to=membership.user.email, template="headshot_rejected",
               context={"membership": membership, "company": membership.company,
                        "reason": decision.reason})


def register() -> None:
    event_subscribe(HEADSHOT_APPROVED, headshot_approved_email)
    event_subscribe(HEADSHOT_REJECTED, headshot_rejected_email)
