"""Anchors for append-only logs (the consent log, the credit ledger): tampering shows.

A log's rows can be hash-chained, but a chain alone cannot tell that its newest rows were
deleted, or the whole table truncated: what is left still verifies. So each company's head
of each log (how many entries, the hash after the last) is kept outside the log, moved
forward in the same transaction as every append and signed with an HMAC key from the
environment (``AUDIT_ANCHOR_KEY``), which the database does not hold. A periodic task
writes signed checkpoints (append-only too) and logs each one, so a copy of the head also
lives outside the database. Verifying recomputes the log and compares it with the head and
every checkpoint: a removed, truncated, inserted or rewritten entry anywhere shows up.

Hand-written because no maintained Django library anchors a hash chain (django-simple-
history and django-auditlog keep history, not tamper evidence).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .tenancy import TenantModel

log = logging.getLogger("likeness.audit")
GENESIS = "0" * 64


class AnchorHead(TenantModel):
    """The head of one company's log. PostgreSQL refuses to delete it or move it backwards."""

    entries = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, default=GENESIS)
    mac = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        constraints = [models.UniqueConstraint(fields=["company"],
                                               name="%(app_label)s_%(class)s_one_per_company")]


class AnchorCheckpoint(TenantModel):
    """A signed copy of a head at one moment; append-only."""

    entries = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["pk"]


def anchor_key() -> bytes:
    """The signing key: AUDIT_ANCHOR_KEY, or one derived from SECRET_KEY where it is unset."""
    configured = getattr(settings, "AUDIT_ANCHOR_KEY", "")
    if configured:
        return configured.encode()
    return salted_hmac("likeness.audit-anchor", "key", algorithm="sha256").digest()


def anchor_mac(*, log_name: str, kind: str, company_id: int, entries: int, head_hash: str) -> str:
    """HMAC-SHA256 of one head or checkpoint; ``kind`` keeps a checkpoint from passing as a head."""
    message = f"likeness-anchor|{log_name}|{kind}|{company_id}|{entries}|{head_hash}".encode()
    return hmac.new(anchor_key(), message, hashlib.sha256).hexdigest()


def anchor_get(head_model: type[AnchorHead], company_id: int, *, lock: bool = False
               ) -> AnchorHead | None:
    query = head_model.objects.for_company(company_id)
    return (query.select_for_update() if lock else query).first()


def anchor_advance(head_model: type[AnchorHead], *, log_name: str, company_id: int,
                   head_hash: str, head: AnchorHead | None = None) -> None:
    """One entry was appended (in this transaction, under the log's company lock)."""
    head = head or anchor_get(head_model, company_id, lock=True)
    entries = (head.entries if head else 0) + 1
    mac = anchor_mac(log_name=log_name, kind="head", company_id=company_id, entries=entries,
                     head_hash=head_hash)
    if head is None:
        head_model.objects.create(company_id=company_id, entries=entries, head_hash=head_hash,
                                  mac=mac)
    else:
        head_model.objects.for_company(company_id).filter(pk=head.pk).update(
            entries=entries, head_hash=head_hash, mac=mac, updated_at=timezone.now())


def anchor_checkpoint(head_model: type[AnchorHead], checkpoint_model: type[AnchorCheckpoint],
                      *, log_name: str) -> int:
    """Sign a checkpoint of every head that moved since its last one; returns how many."""
    written = 0
    # A maintenance sweep over every company's head, by design.
    for head in head_model.objects.unscoped().order_by("company_id").iterator():
        last = checkpoint_model.objects.for_company(head.company_id).order_by("-pk").first()
        if last is not None and last.entries >= head.entries:
            continue
        mac = anchor_mac(log_name=log_name, kind="checkpoint", company_id=head.company_id,
                         entries=head.entries, head_hash=head.head_hash)
        checkpoint_model.objects.create(company_id=head.company_id, entries=head.entries,
                                        head_hash=head.head_hash, mac=mac)
        # The log line is the copy outside the database: keep these logs.
        log.info("anchor checkpoint log=%s company=%s entries=%s head=%s mac=%s", log_name,
                 head.company_id, head.entries, head.head_hash, mac)
        written += 1
    return written


@dataclass(frozen=True)
class AnchorProblem:
    position: int | None  # 1-based entry, where one can be named
    problem: str


def anchor_verify(*, log_name: str, company_id: int, head_model: type[AnchorHead],
                  checkpoint_model: type[AnchorCheckpoint], hashes: Iterable[str],
                  ) -> list[AnchorProblem]:
    """Compare a log, given as the hash after each of its entries in order, with its head
    and its checkpoints."""
    problems: list[AnchorProblem] = []
    head = anchor_get(head_model, company_id)
    checkpoints = {}
    for checkpoint in checkpoint_model.objects.for_company(company_id).order_by("pk"):
        expected = anchor_mac(log_name=log_name, kind="checkpoint", company_id=company_id,
                              entries=checkpoint.entries, head_hash=checkpoint.head_hash)
        if not hmac.compare_digest(expected, checkpoint.mac):
            problems.append(AnchorProblem(None, f"checkpoint {checkpoint.pk} is not signed with "
                                                "our key (forged or altered)"))
            continue
        checkpoints.setdefault(checkpoint.entries, []).append(checkpoint)
    count, last = 0, GENESIS
    for count, last in enumerate(hashes, start=1):  # noqa: B007  (both used after the loop)
        for checkpoint in checkpoints.get(count, []):
            if checkpoint.head_hash != last:
                problems.append(AnchorProblem(count, f"differs from the checkpoint of "
                                              f"{checkpoint.created_at:%Y-%m-%d %H:%M} (an "
                                              "entry up to here was altered, removed or "
                                              "inserted)"))
    beyond = [c for entries, group in checkpoints.items() if entries > count for c in group]
    if beyond:
        most = max(c.entries for c in beyond)
        problems.append(AnchorProblem(None, f"the log has {count} entries but a signed "
                                            f"checkpoint counted {most} (entries were removed)"))
    if head is None:
        if count or checkpoints:
            problems.append(AnchorProblem(None, "the log's anchored head is missing"))
        return problems
    expected = anchor_mac(log_name=log_name, kind="head", company_id=company_id,
                          entries=head.entries, head_hash=head.head_hash)
    if not hmac.compare_digest(expected, head.mac):
        problems.append(AnchorProblem(None, "the anchored head is not signed with our key "
                                            "(forged or altered)"))
    if head.entries != count:
        problems.append(AnchorProblem(None, f"the log has {count} entries but its anchored "
                                            f"head counts {head.entries} (entries were "
                                            f"{'removed' if count < head.entries else 'added'} "
                                            "outside the application)"))
    elif head.head_hash != last:
        problems.append(AnchorProblem(count, "the newest entry does not match the anchored "
                                             "head (the log was rewritten)"))
    return problems
