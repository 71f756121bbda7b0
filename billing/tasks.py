"""Billing tasks (the default queue)."""

from __future__ import annotations

from celery import shared_task

from core.anchoring import anchor_checkpoint
from core.rls import rls_bypass

from .ledger import LEDGER_LOG
from .models import LedgerCheckpoint, LedgerHead


@shared_task(name="billing.ledger_checkpoint")
@rls_bypass("maintenance: signed checkpoints of every company's credit ledger")
def ledger_checkpoint() -> int:
    """Sign a checkpoint of every ledger head that moved (beat: hourly)."""
    return anchor_checkpoint(LedgerHead, LedgerCheckpoint, log_name=LEDGER_LOG)
