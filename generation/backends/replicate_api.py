"""The one module behind which Replicate sits.

Everything that talks to Replicate (predictions, output downloads, webhook
signatures, the create rate limit) lives here, so the rest of the code sees a
few typed functions and three exceptions, never the client library or httpx.

Errors, for callers:
- ``RateLimited`` (a ``ReplicateError`` with ``transient=True``): wait
  ``retry_after`` seconds and try again. Raised by our own token bucket before a
  create (the API never saw the request) and for HTTP 429 from the API.
- ``ReplicateError(transient=True)``: 5xx, timeouts, connection failures. Retry
  with backoff. NB: a create that timed out may still have made a prediction.
- ``ReplicateError(transient=False)``: 4xx (bad token, invalid input, unknown
  prediction), an unknown model, malformed responses. Retrying will not help.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import io
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import redis
import replicate
import replicate.exceptions
from django.conf import settings

from teams.inputs import InputInvalid, json_object_bounded


class ReplicateError(Exception):
    """Replicate could not do what we asked. ``transient`` says whether a retry may work."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class RateLimited(ReplicateError):
    """Too many creates: try again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = None) -> None:
        super().__init__(message, transient=True, status=status)
        self.retry_after = retry_after


class WebhookInvalid(Exception):
    """A webhook delivery we must not trust; ``reason`` is short and safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


# --- Models and their inputs ----------------------------------------------------------

# Replicate answers 422 to inputs a model does not declare, so each model gets
# exactly its own input names. Models without a free-text prompt or an aspect
# ratio input simply do not receive them.

_NEGATIVE_PROMPT = ("cartoon, illustration, painting, 3d render, deformed face, extra limbs, "
                    "blurry, lowres, jpeg artifacts, watermark, text, logo")


def _flux_background(prompt: str) -> str:
    # The headshot app takes no free text; its backdrop is an enum
    # (neutral|white|black|gray|office), so the words before "backdrop" pick one
    # (only those: "white shirt" elsewhere in the prompt must not count).
    text = prompt.lower()
    if re.search(r"\boffice\b", text):
        return "office"
    for words in re.findall(r"((?:[\w-]+\s+){0,4})(?:backdrop|background)\b", text):
        for background, pattern in (("white", r"\bwhite\b"), ("black", r"\bblack\b"),
                                    ("gray", r"\bgr[ae]y\b")):
            if re.search(pattern, words):
                return background
    return "neutral"


_FLUX_ASPECT_RATIOS = frozenset({"match_input_image", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2",
                                 "2:3", "4:5", "5:4", "21:9", "9:21", "2:1", "1:2"})


def _flux_headshot_inputs(*, image_uri: str, prompt: str, seed: int, aspect_ratio: str
                          ) -> dict[str, Any]:
    return {
        "input_image": image_uri,
        # Never guessed from a photo: "none" lets the model keep the person as they are.
        "gender": "none",
        "background": _flux_background(prompt),
        "aspect_ratio": aspect_ratio if aspect_ratio in _FLUX_ASPECT_RATIOS
        else "match_input_image",
        "seed": seed,
        "output_format": "png",  # lossless: we re-encode once, at delivery
        "safety_tolerance": 2,  # the most the API allows with an input image
    }


def _photomaker_prompt(prompt: str) -> str:
    # PhotoMaker refuses a prompt without exactly one "img" trigger word, and it
    # wants it right after the class word.
    if len(re.findall(r"\bimg\b", prompt)) == 1:
        return prompt
    cleaned = re.sub(r"\bimg\b", "", prompt).strip(" ,")
    if re.search(r"\bthe person\b", cleaned):
        return re.sub(r"\bthe person\b", "the person img", cleaned, count=1)
    return f"a photo of a person img, {cleaned}"


def _photomaker_inputs(*, image_uri: str, prompt: str, seed: int, aspect_ratio: str
                       ) -> dict[str, Any]:
    del aspect_ratio  # PhotoMaker renders 1024x1024; the look crops later
    return {
        "input_image": image_uri,
        "prompt": _photomaker_prompt(prompt),
        "negative_prompt": _NEGATIVE_PROMPT,  # must not contain the trigger word
        "style_name": "Photographic (Default)",
        "style_strength_ratio": 20,  # 15-50; lower keeps more of the face
        "num_steps": 40,
        "num_outputs": 1,
        "guidance_scale": 5,
        "seed": seed % 2_147_483_648,  # the model allows 0..int32 max
        "disable_safety_checker": False,
    }


def _instant_id_inputs(*, image_uri: str, prompt: str, seed: int, aspect_ratio: str
                       ) -> dict[str, Any]:
    del aspect_ratio  # no size input: the output follows the face image
    return {
        "image": image_uri,
        "prompt": prompt,
        "negative_prompt": _NEGATIVE_PROMPT,
        "seed": seed,
        "num_outputs": 1,
        "output_format": "png",
        "disable_safety_checker": False,
    }


@dataclass(frozen=True)
class ModelSpec:
    name: str  # "owner/name"
    source: str  # where the input names were taken from
    build: Callable[..., dict[str, Any]]

    def inputs(self, *, image_uri: str, prompt: str, seed: int, aspect_ratio: str
               ) -> dict[str, Any]:
        return self.build(image_uri=image_uri, prompt=prompt, seed=seed, aspect_ratio=aspect_ratio)


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in [
    # Input names as used against replicate.com/flux-kontext-apps/professional-headshot
    # in public client code (input_image, gender none|male|female, background
    # neutral|white|black|gray|office, aspect_ratio, seed, output_format jpg|png,
    # safety_tolerance 0-2). Its cog source is not public. Output: one URL string.
    ModelSpec("flux-kontext-apps/professional-headshot",
              "public client code for the Replicate model page", _flux_headshot_inputs),
    # github.com/TencentARC/PhotoMaker predict.py (the cog behind tencentarc/photomaker):
    # input_image[2-4], prompt with one "img", style_name, negative_prompt, num_steps,
    # style_strength_ratio 15-50, num_outputs 1-4, guidance_scale, seed 0..2^31-1,
    # disable_safety_checker. Output: a list of URLs.
    ModelSpec("tencentarc/photomaker", "TencentARC/PhotoMaker predict.py", _photomaker_inputs),
    # github.com/zsxkib/InstantID cog/predict.py (zsxkib/instant-id): image,
    # pose_image, prompt, negative_prompt, sdxl_weights, ..., output_format,
    # seed, num_outputs 1-8, disable_safety_checker. Output: a list of URLs.
    ModelSpec("zsxkib/instant-id", "zsxkib/InstantID cog/predict.py", _instant_id_inputs),
]}


def model_spec(model: str) -> ModelSpec:
    """The spec for "owner/name" or a pinned "owner/name:version"."""
    spec = MODELS.get(model.split(":", 1)[0])
    if spec is None:
        raise ReplicateError(f"No input mapping for Replicate model {model!r}.", transient=False)
    return spec


# --- The selfie as a data URI ----------------------------------------------------------

# Replicate's API reference asks for data URLs only up to 256 kB; the stored
# selfies (2048 px, q90) are larger. Face models work at ~1024 px anyway.
DATA_URI_BUDGET = 256 * 1024


def selfie_data_uri(jpeg: bytes, *, budget: int = DATA_URI_BUDGET) -> str:
    if len(jpeg) > budget:
        jpeg = _shrink_jpeg(jpeg, budget)
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _shrink_jpeg(jpeg: bytes, budget: int) -> bytes:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(jpeg)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise ReplicateError(f"The selfie could not be decoded: {error}",
                             transient=False) from error
    smallest = jpeg
    for side in (1280, 1024, 768, 512):
        copy = image.copy()
        copy.thumbnail((side, side), Image.Resampling.LANCZOS)
        for quality in (90, 82, 72):
            buffer = io.BytesIO()
            copy.save(buffer, format="JPEG", quality=quality, optimize=True)
            data = buffer.getvalue()
            if len(data) <= budget:
                return data
            smallest = min(smallest, data, key=len)
    return smallest


# --- Create rate limit (token bucket in Redis) ------------------------------------------

# Hand-written rather than a library: one atomic script is all it takes, it uses
# Redis' own clock (so workers with skewed clocks agree), and it tells us how
# long until the next token, which becomes RateLimited.retry_after. Tokens are
# refilled lazily from the elapsed time; a denied call takes nothing.
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait_ms = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait_ms
"""

# How long a create may wait for a token before it gives up with RateLimited.
TOKEN_WAIT_SECONDS = 0.5
_REDIS_TIMEOUT_SECONDS = 2.0

_redis_lock = threading.Lock()
_redis_clients: dict[str, tuple[redis.Redis, Any]] = {}
_local_buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic ts)


def _bucket_key() -> str:
    # One bucket per Replicate account: every worker of a deployment (and any
    # other deployment on the same account and Redis) shares Replicate's limit.
    account = hashlib.sha256(settings.REPLICATE_API_TOKEN.encode()).hexdigest()[:16]
    return f"likeness:replicate:create-bucket:{account}"


def _bucket_script(url: str) -> Any:
    with _redis_lock:
        if url not in _redis_clients:
            client = redis.Redis.from_url(url, socket_timeout=_REDIS_TIMEOUT_SECONDS,
                                          socket_connect_timeout=_REDIS_TIMEOUT_SECONDS)
            _redis_clients[url] = (client, client.register_script(_BUCKET_LUA))
        return _redis_clients[url][1]


def _bucket_take_local(key: str, rate: float, burst: float) -> float:
    # No Redis (the embedded single-process setup): the same bucket, in-process.
    with _redis_lock:
        now = time.monotonic()
        tokens, ts = _local_buckets.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - ts) * rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
        _local_buckets[key] = (tokens - 1 if tokens >= 1 else tokens, now)
        return wait


def _bucket_take() -> float:
    """Take a token; return 0, or the seconds until one will be there (nothing taken)."""
    rate = float(settings.REPLICATE_CREATES_PER_SECOND)
    burst = max(1, int(settings.REPLICATE_CREATE_BURST))
    if rate <= 0:
        return 0.0  # limiter switched off
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return _bucket_take_local(_bucket_key(), rate, burst)
    try:
        wait_ms = _bucket_script(url)(keys=[_bucket_key()], args=[rate, burst])
    except redis.RedisError as error:
        # Fail closed, and as a rate limit: Replicate itself is not at fault.
        raise RateLimited(f"The create rate limiter is unavailable: {error}",
                          retry_after=1.0) from error
    return int(wait_ms) / 1000


def _create_token_acquire() -> None:
    deadline = time.monotonic() + TOKEN_WAIT_SECONDS
    while True:
        wait = _bucket_take()
        if wait <= 0:
            return
        if time.monotonic() + wait > deadline:
            raise RateLimited("Too many Replicate creates right now.", retry_after=wait)
        time.sleep(wait)


# --- The API client ---------------------------------------------------------------------


def _retry_after(value: str | None) -> float:
    if not value:
        return 1.0
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, when.timestamp() - time.time())


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


def prediction_create(*, model: str, selfie_jpeg: bytes, prompt: str, seed: int,
                      aspect_ratio: str, webhook_url: str | None) -> Prediction:
    """Start one prediction. Never retried here: a POST that failed may have created it."""
    spec = model_spec(model)
    # A data URI, never a URL: selfies are private and must not be reachable by anyone.
    inputs = spec.inputs(image_uri=selfie_data_uri(selfie_jpeg), prompt=prompt, seed=seed,
                         aspect_ratio=aspect_ratio)
    params: dict[str, Any] = {}
    if webhook_url:
        params = {"webhook": webhook_url, "webhook_events_filter": ["start", "completed"]}
    _create_token_acquire()
    with _api_errors(), _client() as client:
        if ":" in model:  # a pinned version
            raw = client.predictions.create(version=model.split(":", 1)[1], input=inputs,
                                            **params)
        else:
            raw = client.models.predictions.create(model=model, input=inputs, **params)
        return _prediction(raw)


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


# --- Webhooks ----------------------------------------------------------------------------


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
    try:
        payload = json_object_bounded(body)
    except InputInvalid as error:
        raise WebhookInvalid(f"webhook body: {error}") from None
    prediction_id = payload.get("id")
    if not isinstance(prediction_id, str) or not _PREDICTION_ID.fullmatch(prediction_id):
        raise WebhookInvalid("the payload names no prediction")
    return payload
