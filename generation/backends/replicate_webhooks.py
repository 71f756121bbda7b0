"""Replicate's webhook signatures (webhook-id, webhook-timestamp, webhook-signature:
HMAC-SHA256 over "<id>.<timestamp>.<body>" with the base64 secret after "whsec_")."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from core.inputs import WebhookInvalid, webhook_json

# Svix-style ids ("msg_2Lh…"); stored whole, so no longer than ReplicateWebhook.webhook_id.
_WEBHOOK_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# Replicate's prediction ids are short lower-case base32; bounded by the column.
_PREDICTION_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def _secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise WebhookInvalid("the webhook secret setting is malformed") from error


def _signature(*, webhook_id: str, timestamp: str, body: bytes, key: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def webhook_sign(*, webhook_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """A webhook-signature header value, as Replicate makes it (for fakes and tests)."""
    return "v1," + _signature(webhook_id=webhook_id, timestamp=str(timestamp), body=body,
                              key=_secret_key(secret))


def webhook_verify(*, headers: Mapping[str, str], body: bytes, now: float | None = None
                   ) -> dict[str, Any]:
    """The prediction JSON of a genuine, fresh delivery; WebhookInvalid otherwise."""
    secret = settings.REPLICATE_WEBHOOK_SECRET
    if not secret:
        raise WebhookInvalid("no webhook secret is configured")
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (webhook_id and timestamp and signatures):
        raise WebhookInvalid("missing webhook headers")
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise WebhookInvalid("malformed webhook id")
    if not _TIMESTAMP.fullmatch(timestamp):  # int() would take 400 digits, "+1" or "1_0"
        raise WebhookInvalid("malformed webhook timestamp")
    if len(signatures) > 4096:
        raise WebhookInvalid("malformed webhook signature")
    sent_at = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - sent_at) > settings.REPLICATE_WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookInvalid("webhook timestamp outside the tolerance")
    expected = _signature(webhook_id=webhook_id, timestamp=timestamp, body=body,
                          key=_secret_key(secret)).encode()
    matched = False
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        # Compare every candidate in constant time; no early exit on a match.
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            matched = True
    if not matched:
        raise WebhookInvalid("bad webhook signature")
    payload = webhook_json(body, refusal="webhook body")
    prediction_id = payload.get("id")
    if not isinstance(prediction_id, str) or not _PREDICTION_ID.fullmatch(prediction_id):
        raise WebhookInvalid("the payload names no prediction")
    return payload
