"""The one module behind which Replicate sits.

Everything that talks to Replicate (predictions, output downloads, webhook
signatures, the create rate limit) goes through here, so the rest of the code sees a
few typed functions and three exceptions, never the client library or httpx. The model
inputs (replicate_inputs.py), the rate limit (replicate_ratelimit.py), the webhook
signatures (replicate_webhooks.py) and the errors (replicate_errors.py) have modules of
their own; this one re-exports what callers need. What each error means for a caller:
replicate_errors.py.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import replicate
import replicate.exceptions
from django.conf import settings

from core.retry import retry_after_seconds

from ..looks import LookSpec
from .replicate_errors import RateLimited, ReplicateError
from .replicate_inputs import DATA_URI_BUDGET, ModelSpec, model_spec, selfie_data_uri
from .replicate_ratelimit import TOKEN_WAIT_SECONDS, create_token_acquire
from .replicate_webhooks import WebhookInvalid, webhook_sign, webhook_verify

__all__ = [
    "DATA_URI_BUDGET", "TERMINAL_STATUSES", "TOKEN_WAIT_SECONDS", "ModelSpec",
    "Listed", "Prediction", "RateLimited", "ReplicateError", "WebhookInvalid", "model_spec",
    "output_download", "prediction_cancel", "prediction_create", "prediction_get",
    "prediction_inputs", "predictions_since",
    "replicate_configured", "selfie_data_uri", "webhook_sign", "webhook_verify",
]


Status = str  # "starting" | "processing" | "succeeded" | "failed" | "canceled"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class Prediction:
    id: str
    status: Status
    output_urls: list[str]
    error: str | None
    created_at: str | None


def replicate_configured() -> bool:
    return bool(settings.REPLICATE_API_TOKEN.strip() and settings.REPLICATE_BASE_URL.strip())


# --- The API client ---------------------------------------------------------------------


def _retry_after(value: str | None) -> float:
    seconds = retry_after_seconds(value)
    return 1.0 if seconds is None else seconds


def _raise_on_429(response: httpx.Response) -> None:
    # The client's ReplicateError keeps the status but drops the headers, so
    # Retry-After is read here, before the client turns the response into one.
    if response.status_code == 429:
        raise RateLimited("Replicate answered 429 Too Many Requests.",
                          retry_after=_retry_after(response.headers.get("retry-after")),
                          status=429)


@contextmanager
def _client() -> Iterator[replicate.Client]:
    timeout = httpx.Timeout(settings.REPLICATE_TIMEOUT_SECONDS)

    def _enforce_timeout(request: httpx.Request) -> None:
        # replicate 1.0.7 sends creates with timeout=None, which httpx reads as
        # "no timeout at all"; every request gets ours instead.
        request.extensions = {**request.extensions, "timeout": timeout.as_dict()}

    # Our own transport, mounted for every URL, replaces the client's
    # RetryTransport: that one retries GETs on 429/503 up to 10 times, sleeping
    # whatever Retry-After says, which would hold a worker for minutes. Retries
    # are the caller's (Celery's) job; we answer at once.
    transport = httpx.HTTPTransport(retries=0)
    client = replicate.Client(
        api_token=settings.REPLICATE_API_TOKEN, base_url=settings.REPLICATE_BASE_URL,
        timeout=timeout, mounts={"all://": transport},
        event_hooks={"request": [_enforce_timeout], "response": [_raise_on_429]})
    try:
        yield client
    finally:
        transport.close()


@contextmanager
def _api_errors() -> Iterator[None]:
    try:
        yield
    except ReplicateError:
        raise
    except replicate.exceptions.ReplicateError as error:
        status = error.status or 0
        message = error.detail or error.title or f"HTTP {status}"
        raise ReplicateError(f"Replicate answered {status}: {message}",
                             transient=status >= 500 or status == 408, status=status) from error
    except httpx.TransportError as error:  # timeouts, refused connections, resets
        raise ReplicateError(f"Could not reach Replicate: {error!r}", transient=True) from error
    except ValueError as error:  # malformed JSON or a prediction the client cannot parse
        raise ReplicateError(f"Unexpected answer from Replicate: {error}",
                             transient=False) from error


def _output_urls(output: Any) -> list[str]:
    if output is None:
        return []
    items = output if isinstance(output, list) else [output]
    return [item for item in items if isinstance(item, str) and item]


def _prediction(raw: Any) -> Prediction:
    return Prediction(id=raw.id, status=raw.status, output_urls=_output_urls(raw.output),
                      error=str(raw.error) if raw.error else None, created_at=raw.created_at)


def prediction_inputs(*, model: str, selfie_jpeg: bytes, look: LookSpec, seed: int
                      ) -> dict[str, Any]:
    """The model's input for one seed: the same bytes give the same input, so a prediction
    created before a crash can be recognised by it (``predictions_since``)."""
    # A data URI, never a URL: selfies are private and must not be reachable by anyone.
    return model_spec(model).inputs(image_uri=selfie_data_uri(selfie_jpeg), look=look,
                                    seed=seed)


def prediction_create(*, model: str, selfie_jpeg: bytes, look: LookSpec, seed: int,
                      webhook_url: str | None) -> Prediction:
    """Start one prediction. Never retried here: a POST that failed may have created it.

    Official models are run by name (POST /v1/models/{owner}/{name}/predictions); community
    models only by their pinned version (POST /v1/predictions): Replicate answers 404 to a
    community model by name. Replicate takes no idempotency key for creates (its HTTP API
    documents none), so a caller that may be repeating a create looks for the first one
    with ``predictions_since`` before it calls this again
    (generation/services/replicate_create.py)."""
    spec = model_spec(model)
    inputs = prediction_inputs(model=model, selfie_jpeg=selfie_jpeg, look=look, seed=seed)
    params: dict[str, Any] = {}
    if webhook_url:
        params = {"webhook": webhook_url, "webhook_events_filter": ["start", "completed"]}
    create_token_acquire()
    with _api_errors(), _client() as client:
        if spec.official:
            raw = client.models.predictions.create(model=spec.name, input=inputs, **params)
        else:
            raw = client.predictions.create(version=spec.version, input=inputs, **params)
        return _prediction(raw)


@dataclass(frozen=True)
class Listed:
    """A prediction as the list endpoint shows it: enough to recognise one we created."""

    prediction: Prediction
    model: str
    input: dict[str, Any]


def _created(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def predictions_since(since: datetime, *, max_pages: int = 5) -> list[Listed]:
    """Predictions created at or after ``since`` (newest first), from the list endpoint.

    Pages are read until one reaches back past ``since``; at most ``max_pages`` of them, so
    a busy account costs a bounded number of requests (a create older than that is left to
    the caller's judgement).
    """
    found: list[Listed] = []
    with _api_errors(), _client() as client:
        page = client.predictions.list()
        for _ in range(max_pages):
            older = False
            for raw in page.results:
                created = _created(raw.created_at)
                if created is not None and created < since:
                    older = True
                    continue
                found.append(Listed(prediction=_prediction(raw), model=raw.model or "",
                                    input=dict(raw.input or {})))
            if older or not page.next:
                break
            page = client.predictions.list(cursor=page.next)
    return found


def prediction_get(prediction_id: str) -> Prediction:
    with _api_errors(), _client() as client:
        return _prediction(client.predictions.get(prediction_id))


def prediction_cancel(prediction_id: str) -> None:
    """Ask Replicate to stop; a prediction that already finished stays as it was."""
    with _api_errors(), _client() as client:
        client.predictions.cancel(prediction_id)


# --- Outputs ---------------------------------------------------------------------------


def output_download(url: str, *, max_bytes: int = 30_000_000) -> bytes:
    """The bytes of one output. Call at once: Replicate deletes outputs after an hour."""
    if url.startswith("data:"):
        return _data_uri_bytes(url, max_bytes=max_bytes)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ReplicateError(f"Refusing to download {parts.scheme!r} URL.", transient=False)
    headers = {}
    api = urllib.parse.urlsplit(settings.REPLICATE_BASE_URL)
    if (parts.scheme, parts.netloc) == (api.scheme, api.netloc):
        # Files served by the API itself need the token; never send it elsewhere.
        headers["Authorization"] = f"Bearer {settings.REPLICATE_API_TOKEN}"
    timeout = httpx.Timeout(settings.REPLICATE_TIMEOUT_SECONDS, read=60.0)
    try:
        with httpx.stream("GET", url, headers=headers, timeout=timeout,
                          follow_redirects=True) as response:
            if response.status_code >= 400:
                raise ReplicateError(f"Output download answered {response.status_code}.",
                                     transient=response.status_code >= 500
                                     or response.status_code in (408, 429),
                                     status=response.status_code)
            length = response.headers.get("content-length", "")
            declared = int(length) if length.isdigit() else 0
            if declared > max_bytes:
                raise ReplicateError(f"Output is {declared} bytes; the limit is {max_bytes}.",
                                     transient=False)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ReplicateError(f"Output is over {max_bytes} bytes.", transient=False)
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as error:
        raise ReplicateError(f"Output download failed: {error!r}", transient=True) from error


def _data_uri_bytes(uri: str, *, max_bytes: int) -> bytes:
    header, _, payload = uri.partition(",")
    try:
        if header.endswith(";base64"):
            data = base64.b64decode(payload, validate=True)
        else:
            data = urllib.parse.unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as error:
        raise ReplicateError("Output data URI is malformed.", transient=False) from error
    if len(data) > max_bytes:
        raise ReplicateError(f"Output is over {max_bytes} bytes.", transient=False)
    return data
