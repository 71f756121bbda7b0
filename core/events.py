"""Domain events: a service says what happened, and the apps above it react.

A lower layer never calls a higher one (generation does not know delivery's webhooks, teams
does not know privacy). So a service emits a named event, and the apps that care subscribe
in their ``AppConfig.ready()``, the way Django's admin registry works::

    event_subscribe(JOB_READY, webhooks_forward)            # in delivery's ready()
    event_emit(JOB_READY, company_id=job.company_id, job=job.pk, person=job.membership_id)

Handlers run after the emitting transaction commits (``transaction.on_commit``): a rolled
back action announces nothing, and a handler sees committed rows. Outside a transaction
they run at once. The data is ids and plain values only (what a webhook may carry);
handlers load whatever else they need. A handler that fails is logged and the others still
run (the action itself is already committed); with ``EVENTS_RAISE`` (the test settings)
the error propagates, so a broken handler fails its test.

A handler that is part of the action itself, not a consequence of it, subscribes with
``in_transaction=True``: it runs inside the emitter's transaction, at the moment of the
emit, and an error rolls the action back. Privacy's erasure of a leaver is one: it must
finish before the membership row (which everything points at) goes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from core.rls import company_scope

log = logging.getLogger(__name__)

HEADSHOT_APPROVED = "headshot.approved"  # person, headshot, approved_at
HEADSHOT_REJECTED = "headshot.rejected"  # person, decision (the reason is on the decision)
JOB_READY = "job.ready"  # job, person, kind, status, failure_reason
JOB_FAILED = "job.failed"  # job, person, kind, status, failure_reason
MEMBER_JOINED = "member.joined"  # person, team
MEMBER_LEFT = "member.left"  # person, user, rule (emitted while the membership still exists)
EVENTS = frozenset({HEADSHOT_APPROVED, HEADSHOT_REJECTED, JOB_READY, JOB_FAILED, MEMBER_JOINED,
                    MEMBER_LEFT})


@dataclass(frozen=True)
class Event:
    name: str
    company_id: int
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], None]

_after_commit: dict[str, list[Handler]] = {}
_in_transaction: dict[str, list[Handler]] = {}


def _known(name: str) -> str:
    if name not in EVENTS:
        raise ValueError(f"unknown event {name!r}: add it to core.events.EVENTS")
    return name


def event_subscribe(name: str, handler: Handler, *, in_transaction: bool = False) -> None:
    """Call ``handler(event)`` for every ``name`` event (once, however often registered)."""
    handlers = (_in_transaction if in_transaction else _after_commit).setdefault(_known(name), [])
    if handler not in handlers:
        handlers.append(handler)


def event_unsubscribe(name: str, handler: Handler) -> None:
    for registry in (_in_transaction, _after_commit):
        if handler in registry.get(name, []):
            registry[name].remove(handler)


def event_emit(name: str, *, company_id: int, **data: Any) -> Event:
    """Announce ``name``: in-transaction handlers now, the others once the commit is done."""
    event = Event(name=_known(name), company_id=company_id, data=data)
    for handler in list(_in_transaction.get(name, [])):
        handler(event)
    handlers = list(_after_commit.get(name, []))
    if handlers:
        transaction.on_commit(lambda: _dispatch(event, handlers))
    return event


def _dispatch(event: Event, handlers: list[Handler]) -> None:
    # After the commit the emitter's SET LOCAL is gone: the event names its company again for
    # the database's wall (core/rls.py), whoever emitted it.
    with company_scope(event.company_id):
        _dispatch_scoped(event, handlers)


def _dispatch_scoped(event: Event, handlers: list[Handler]) -> None:
    for handler in handlers:
        try:
            handler(event)
        except Exception:
            if getattr(settings, "EVENTS_RAISE", False):
                raise
            log.exception("handler %s of %s (company %s) failed", getattr(
                handler, "__qualname__", handler), event.name, event.company_id)
