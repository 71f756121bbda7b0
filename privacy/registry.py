"""The personal data registry: every app that stores something about a person says so here.

Privacy does not know the other apps' models. Each app registers its kinds of personal data
in its ``AppConfig.ready()`` (as plug-ins register with Django's admin), and the retention
sweeper, erasure and the data-subject export walk the registry::

    personal_data_register(PersonalData(
        kind="selfie", files=SELFIES, of_person=..., erase=..., export=...,
        known_keys=..., rules=(RetentionRule("selfies.max_age", "selfies_max_hours", ...),)))

- ``kind`` names it in deletion receipts and the audit.
- ``of_person(company, membership)``: everything of this kind about one person (erasure;
  nothing for records kept as proof, such as deletion receipts).
- ``erase(obj, rule, subject_user_id)``: delete one of them the privacy way (files first,
  then the row, then a receipt; privacy/deletion.py has the helpers).
  ``erase_many(objs, rule, subject_user_id)``, where given, deletes a list of them at once
  (their files in batches: one S3 request per 1,000 keys).
- ``export(company, membership, archive)``: put the person's copy in the archive
  (``archive.data`` becomes data.json, ``archive.add_file`` adds a stored file); called even
  when the person has none, so the section says so.
- ``rules``: retention. Each ``RetentionRule`` names its clock (a field of
  privacy.retention.Policy, so the schedule published to employees covers it) and finds
  what is past the cutoff; the sweeper deletes it in bounded chunks.
- ``files`` and ``known_keys(company_id)``: the storage area (core/storage.py) its files
  live in, and the keys its rows point at. A file in an area that no registered kind knows
  is an orphan and is swept once it is older than the grace period.
- ``kept_with_headshot(company, membership)`` and ``strip(obj, rule)``: a company's leaver
  policy may keep a leaver's approved headshot (privacy/leaver.py). What of this kind the
  headshot needs then stays (the headshot, its photo, its job record), and ``strip`` takes
  from a kept object what the photo does not need (its face embedding).

A copy held outside the platform (a photo pushed to a company directory) is erased by its
kind's ``erase`` too; when the outside system will not remove it, ``erase`` still removes
our record, receipts what it could not do, and raises ``ExternalCopyKept``: erasure goes on
and tells the person where their copy remains (``ErasureResult.not_removed``).

An app's records of a company that belong to no one person register with
``company_records_register``: closing the company erases them after its people.

Registration order is erasure order (a headshot before the photo it protects).
Processes that make more personal data (generation's jobs) register a way to stop for one
person with ``processing_stop_register``: consent withdrawal and erasure call it first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.storage import FileArea

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from teams.models import Company, Membership

    from .dsr import ExportArchive


class ExternalCopyKept(Exception):
    """A copy outside the platform that could not be removed: ``where`` names it for the
    person (e.g. "Slack"), ``reason`` says why and what they can do."""

    def __init__(self, *, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class RetentionRule:
    """One retention rule: ``due(company, cutoff)`` finds what is past it (a QuerySet is
    claimed row by row with SKIP LOCKED; any other iterable is taken as it is), and
    ``delete(obj, rule_name)`` deletes one (``delete_many`` a claimed chunk at once)."""

    name: str  # receipts say "retention.<name>"
    clock: str  # the Policy field whose period applies
    due: Callable[[Company, datetime], QuerySet | Iterable[Any]]
    delete: Callable[[Any, str], None]
    delete_many: Callable[[list, str], None] | None = None


@dataclass(frozen=True)
class PersonalData:
    kind: str
    of_person: Callable[[Company, Membership], Iterable[Any]]
    erase: Callable[[Any, str, int | None], None]
    export: Callable[[Company, Membership, ExportArchive], None] | None = None
    rules: tuple[RetentionRule, ...] = ()
    files: FileArea | None = None
    known_keys: Callable[[int], Iterable[str]] | None = None
    kept_with_headshot: Callable[[Company, Membership], Iterable[Any]] | None = None
    strip: Callable[[Any, str], None] | None = None
    # Consent withdrawal erases photos and face data; a kind about the person's job rather
    # than their likeness (their provisioning, the admin log) stays while they work there.
    kept_on_withdrawal: bool = False
    # Erasure of many at once (their files in batches); else ``erase`` one by one.
    erase_many: Callable[[list, str, int | None], None] | None = None


_registry: dict[str, PersonalData] = {}
_stoppers: list[Callable[..., None]] = []
_company_records: list[Callable[[Company, str], None]] = []


def personal_data_register(data: PersonalData) -> PersonalData:
    if data.kind in _registry and _registry[data.kind] is not data:
        raise ValueError(f"personal data {data.kind!r} is already registered")
    _registry[data.kind] = data
    return data


def personal_data_unregister(kind: str) -> None:
    _registry.pop(kind, None)


def personal_data() -> tuple[PersonalData, ...]:
    return tuple(_registry.values())


def retention_rules() -> list[RetentionRule]:
    return [rule for data in _registry.values() for rule in data.rules]


def processing_stop_register(stop: Callable[..., None]) -> None:
    """``stop(company=, membership=)`` halts work that would write more about the person."""
    if stop not in _stoppers:
        _stoppers.append(stop)


def processing_stop(*, company: Company, membership: Membership) -> None:
    for stop in list(_stoppers):
        stop(company=company, membership=membership)


def company_records_register(erase: Callable[[Company, str], None]) -> None:
    """``erase(company, rule)`` deletes an app's records of a closed company that belong to no
    one person (its provisioning set-up, its audit log), after every person is erased."""
    if erase not in _company_records:
        _company_records.append(erase)


def company_records() -> tuple[Callable[[Company, str], None], ...]:
    return tuple(_company_records)
