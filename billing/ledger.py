"""The credit ledger as a tamper-evident log: a running hash over its entries in order,
anchored in the company's signed LedgerHead (core/anchoring.py). Reads only; entries are
written by ``billing.services``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from core.anchoring import GENESIS, AnchorProblem, anchor_verify

from .models import CreditEntry, LedgerCheckpoint, LedgerHead

LEDGER_LOG = "ledger"


def ledger_entry_hash(previous: str, entry: CreditEntry) -> str:
    """The running hash after ``entry``. The actor is left out: deleting a user sets it to
    NULL, which is no tampering."""
    payload = [previous, entry.pk, entry.company_id, entry.kind, entry.amount, entry.job_ref,
               entry.stripe_ref, entry.amount_cents, entry.currency, entry.reason,
               entry.created_at.isoformat()]
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


def _running_hashes(company_id: int) -> Iterator[str]:
    current = GENESIS
    for entry in CreditEntry.objects.for_company(company_id).order_by("pk").iterator():
        current = ledger_entry_hash(current, entry)
        yield current


def ledger_verify(*, company_id: int) -> list[AnchorProblem]:
    """Every entry removed, inserted, altered or truncated since it was written shows up."""
    return anchor_verify(log_name=LEDGER_LOG, company_id=company_id, head_model=LedgerHead,
                         checkpoint_model=LedgerCheckpoint, hashes=_running_hashes(company_id))
