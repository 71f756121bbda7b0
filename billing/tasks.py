"""Billing tasks (the default queue)."""

from __future__ import annotations

from celery import shared_task

from core.anchoring import anchor_checkpoint

from .ledger import LEDGER_LOG
from .models import LedgerCheckpoint, LedgerHead


@shared_task(name="billing.ledger_checkpoint")
def ledger_checkpoint() -> int:
    """Sign a checkpoint of every ledger head that moved (beat: hourly)."""
    return anchor_checkpoint(LedgerHead, LedgerCheckpoint, log_name=LEDGER_LOG)
