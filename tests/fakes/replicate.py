"""A local fake of Replicate's HTTP API, on 127.0.0.1, for tests and scripts.

The real client library talks to it unchanged (``Client(base_url=fake.base_url)``),
so tests exercise our code, the client and HTTP together. Shapes follow
Replicate's prediction JSON; only what we use is modelled.

In a test::

    from tests.fakes.replicate import fake_replicate  # noqa: F401  (the fixture)

    def test_something(fake_replicate):  # settings already point at it
        fake_replicate.fail_next(1, 429, retry_after=3)

In a script (or another process, e.g. a Celery worker under test)::

    with FakeReplicate() as fake:
        print(fake.base_url, fake.token, fake.webhook_secret)

    python -m tests.fakes.replicate --port 8765   # prints the same as JSON, serves until ^C
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import queue
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image, ImageEnhance, ImageOps

from generation.backends.replicate_api import webhook_sign
from generation.backends.replicate_schemas import VersionSchema

from .loopback import LoopbackFake, LoopbackHandler, serve_until_interrupted
from .replicate_schema import (
    BY_NAME_KEYS,
    BY_VERSION_KEYS,
    INVALID_VERSION,
    NOT_FOUND,
    Catalogue,
    body_errors,
    input_errors,
    validation_problem,
)

# (prediction input, output index) -> image bytes
OutputFactory = Callable[[dict[str, Any], int], bytes]

TERMINAL = frozenset({"succeeded", "failed", "canceled"})


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _new_id() -> str:
    # Replicate's ids look like "gm3qorzdhgbfurvjtvhg6dckhu".
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))


def _decode_data_uri(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value.startswith("data:") or ";base64," not in value:
        return None
    try:
        return base64.b64decode(value.split(",", 1)[1])
    except ValueError:
        return None


@functools.lru_cache(maxsize=16)
def _studio(raw: bytes, prompt: str, ratio: str, size: int) -> Image.Image | None:
    """The input photo as a real headshot model returns it: retouched into a studio
    headshot (backdrop colour from the prompt, framing, aspect) by the offline backend;
    None when the prompt names no colour or the photo has no face."""
    from generation.backends.offline import NoFaceForRetouch, studio_retouch
    from generation.looks import FRAMING_TEXT, LookSpec

    named = re.search(r"#[0-9A-Fa-f]{6}", prompt)
    if named is None:
        return None
    colour = named.group(0)
    if not re.fullmatch(r"\d+:\d+", ratio):
        ratio = "1:1" if "photomaker" in prompt else "4:5"
    framing = next((key for key, text in FRAMING_TEXT.items() if text in prompt),
                   "head_and_shoulders")
    look = LookSpec(backdrop_color=colour, backdrop_description="", wardrobe="",
                    lighting="", framing=framing, aspect_ratio=ratio, output_size=size,
                    prompt=prompt)
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            return studio_retouch(ImageOps.exif_transpose(opened).convert("RGB"), look=look,
                                  seed=0)
    except (NoFaceForRetouch, OSError):
        return None


def default_output(inputs: dict[str, Any], index: int, *, size: int = 1024) -> bytes:
    """A PNG made from the input photo: cropped to the aspect ratio, long side ``size``.

    It keeps the person's face, so likeness scoring downstream sees a match; the
    seed nudges brightness so candidates from different seeds are not identical.
    """
    raw = next((data for data in map(_decode_data_uri, [inputs.get("input_image"),
                                                        inputs.get("image"), *inputs.values()])
                if data), None)
    seed = int(inputs.get("seed") or 0) + index
    image: Image.Image | None = None
    if raw:
        try:
            with Image.open(io.BytesIO(raw)) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except Exception:  # noqa: BLE001  (any undecodable input falls back to a flat image)
            image = None
    if image is None:
        image = Image.new("RGB", (size, size), (120 + seed % 40, 120, 128))
    ratio = str(inputs.get("aspect_ratio") or "")
    studio = _studio(raw, str(inputs.get("prompt") or ""), ratio, size) if raw else None
    if studio is not None:
        # What a real model returns for our prompt: a studio headshot in the look.
        image = studio.copy()
    elif re.fullmatch(r"\d+:\d+", ratio):
        w, h = (int(part) for part in ratio.split(":"))
        target = (size, round(size * h / w)) if w >= h else (round(size * w / h), size)
        image = ImageOps.fit(image, target, Image.Resampling.LANCZOS, centering=(0.5, 0.4))
    else:
        scale = size / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)),
                             Image.Resampling.LANCZOS)
    image = ImageEnhance.Brightness(image).enhance(1 + ((seed % 7) - 3) / 100)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    json: Any  # the parsed body, or None


@dataclass(frozen=True)
class WebhookDelivery:
    prediction_id: str
    event: str  # "start" | "completed"
    status: str  # the prediction status in the payload
    webhook_id: str
    url: str
    response_status: int | None  # None when dropped or unreachable
    error: str | None = None


@dataclass
class _Prediction:
    data: dict[str, Any]
    webhook: str | None
    events: frozenset[str]
    began: float = field(default_factory=time.monotonic)
    held: list[tuple[str, bytes]] = field(default_factory=list)  # reordered deliveries
    output_is_list: bool = True  # the model's output schema: a list of URLs or one URL


class FakeReplicate(LoopbackFake):
    """Replicate's prediction API, outputs and webhooks, with knobs for failure cases."""

    name = "replicate"
    server_version = "FakeReplicate/1.0"

    def __init__(self, *, token: str = "r8_fake_token", webhook_secret: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, mode: str = "auto",
                 complete_after: float = 0.2, start_after: float = 0.05,
                 output_factory: OutputFactory | None = None,
                 webhook_target: str | None = None) -> None:
        super().__init__(host=host, port=port)
        self.token = token
        self.webhook_secret = webhook_secret or new_webhook_secret()
        self.mode = mode  # "auto": finishes after complete_after; "manual": call complete()
        self.complete_after = complete_after
        self.start_after = start_after
        self.output_factory: OutputFactory = output_factory or default_output
        # The models served, with the input schemas of their pinned versions.
        self.catalogue = Catalogue()
        # Sends every webhook here instead of the URL the prediction named.
        self.webhook_target = webhook_target
        self.create_delay = 0.0  # seconds a create sleeps AFTER making the prediction
        self.drop_webhooks = False
        self.duplicate_webhooks = False  # each delivery twice, same webhook-id
        self.reorder_webhooks = False  # "completed" first, then the stale "start"
        self.forge_signature = False
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[WebhookDelivery] = []
        self.create_attempts = 0
        self.list_page_size = 100  # GET /v1/predictions: newest first, this many a page
        self.creates = 0
        self._lock = threading.RLock()
        self._predictions: dict[str, _Prediction] = {}
        self._files: dict[str, bytes] = {}
        self._failures: list[tuple[int, float | None, str | None]] = []
        self._timers: list[threading.Timer] = []
        self._outbox: queue.Queue[tuple[str, str, str, bytes] | None] = queue.Queue()
        self._stopped = False

    # --- lifecycle ---

    def _workers(self) -> list[threading.Thread]:
        return [threading.Thread(target=self._deliver_loop, name="fake-replicate-webhooks",
                                 daemon=True)]

    def _stopping(self) -> None:
        with self._lock:
            self._stopped = True
            for timer in self._timers:
                timer.cancel()
        self._outbox.put(None)

    # --- controls ---

    def fail_next(self, n: int, status: int, retry_after: float | None = None,
                  detail: str | None = None) -> None:
        """The next ``n`` API requests (any /v1/ endpoint) answer ``status``."""
        with self._lock:
            self._failures.extend([(status, retry_after, detail)] * n)

    def complete(self, prediction_id: str, status: str = "succeeded",
                 error: str | None = None) -> None:
        """Finish a prediction now (any mode)."""
        self._finish(prediction_id, status, error)

    def expire_outputs(self) -> None:
        """What Replicate does an hour later: output URLs answer 404."""
        with self._lock:
            self._files.clear()

    def prediction(self, prediction_id: str) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._predictions[prediction_id].data))

    def prediction_ids(self) -> list[str]:
        with self._lock:
            return list(self._predictions)

    def _list_page(self, offset: int) -> dict[str, Any]:
        """Replicate's list endpoint: predictions newest first, a cursor to the next page."""
        with self._lock:
            everything = sorted((p.data for p in self._predictions.values()),
                                key=lambda d: d["created_at"], reverse=True)
        page = everything[offset:offset + self.list_page_size]
        more = offset + self.list_page_size < len(everything)
        return {"previous": None,
                "next": (f"{self.base_url}/v1/predictions?cursor={offset + len(page)}"
                         if more else None),
                "results": json.loads(json.dumps(page))}

    def requests_to(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if r.method == method and r.path.startswith(path_prefix)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # --- behaviour (called by the handler and timers) ---

    def _take_failure(self) -> tuple[int, float | None, str | None] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _create(self, body: dict[str, Any], schema: VersionSchema) -> dict[str, Any]:
        model, version = schema.model, schema.version
        prediction_id = _new_id()
        urls = f"{self.base_url}/v1/predictions/{prediction_id}"
        data = {
            "id": prediction_id, "model": model, "version": version,
            "input": body["input"], "output": None, "error": None, "status": "starting",
            "logs": "", "metrics": {}, "data_removed": False, "source": "api",
            "created_at": _now_iso(), "started_at": None, "completed_at": None,
            "urls": {"get": urls, "cancel": f"{urls}/cancel",
                     "stream": f"{self.base_url}/v1/streams/{prediction_id}"},
        }
        events = body.get("webhook_events_filter") or ["start", "output", "logs", "completed"]
        with self._lock:
            self._predictions[prediction_id] = _Prediction(
                data=data, webhook=body.get("webhook"), events=frozenset(events),
                output_is_list=schema.output_is_list)
            self.creates += 1
            self._later(self.start_after, self._start, prediction_id)
            if self.mode == "auto":
                self._later(self.complete_after, self._finish, prediction_id, "succeeded", None)
            return json.loads(json.dumps(data))

    def _later(self, delay: float, func: Callable[..., None], *args: Any) -> None:
        timer = threading.Timer(delay, func, args)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _start(self, prediction_id: str) -> None:
        with self._lock:
            state = self._predictions[prediction_id]
            if self._stopped or state.data["status"] != "starting":
                return
            state.data.update(status="processing", started_at=_now_iso(),
                              logs=f"Using seed: {state.data['input'].get('seed')}\n")
            self._emit(state, "start")

    def _finish(self, prediction_id: str, status: str, error: str | None) -> None:
        with self._lock:
            state = self._predictions[prediction_id]
            if self._stopped or state.data["status"] in TERMINAL:
                return
            if state.data["status"] == "starting":
                self._start(prediction_id)
            inputs = state.data["input"]
        output: Any = None
        if status == "succeeded":
            try:
                count = int(inputs.get("num_outputs") or 1)
                urls = []
                for index in range(count):
                    image = self.output_factory(inputs, index)
                    with self._lock:
                        self._files[f"{prediction_id}/{index}"] = image
                    urls.append(f"{self.base_url}/files/{prediction_id}/{index}.png")
                # As the model's output schema says: a list of URLs, or one URL string.
                output = urls if state.output_is_list else urls[0]
            except Exception as exc:  # noqa: BLE001  (a broken factory is a failed prediction)
                status, error = "failed", f"{type(exc).__name__}: {exc}"
        with self._lock:
            if state.data["status"] in TERMINAL:
                return  # cancelled while the outputs were being made
            state.data.update(status=status, output=output, error=error,
                              completed_at=_now_iso(),
                              metrics={"predict_time": round(time.monotonic() - state.began, 3)})
            self._emit(state, "completed")
            for held in state.held:
                self._send(state, *held)
            state.held.clear()

    def _cancel(self, prediction_id: str) -> dict[str, Any] | None:
        with self._lock:
            if prediction_id not in self._predictions:
                return None
        self._finish(prediction_id, "canceled", None)
        return self.prediction(prediction_id)

    # --- webhooks ---

    def _emit(self, state: _Prediction, event: str) -> None:
        if not state.webhook or event not in state.events:
            return
        body = json.dumps(state.data).encode()
        if self.reorder_webhooks and event != "completed":
            state.held.append((event, body))  # sent after "completed"
            return
        self._send(state, event, body)

    def _send(self, state: _Prediction, event: str, body: bytes) -> None:
        url = self.webhook_target or state.webhook or ""
        webhook_id = "msg_" + secrets.token_hex(12)
        if self.drop_webhooks:
            self.deliveries.append(WebhookDelivery(
                state.data["id"], event, json.loads(body)["status"], webhook_id, url, None,
                "dropped"))
            return
        for _ in range(2 if self.duplicate_webhooks else 1):
            self._outbox.put((url, event, webhook_id, body))

    def _deliver_loop(self) -> None:
        # One sender thread: deliveries leave in the order they were made.
        while (item := self._outbox.get()) is not None:
            url, event, webhook_id, body = item
            payload = json.loads(body)
            timestamp = int(time.time())
            secret = new_webhook_secret() if self.forge_signature else self.webhook_secret
            headers = {
                "content-type": "application/json", "webhook-id": webhook_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": webhook_sign(webhook_id=webhook_id, timestamp=timestamp,
                                                  body=body, secret=secret),
            }
            try:
                response = httpx.post(url, content=body, headers=headers, timeout=5.0)
                result: tuple[int | None, str | None] = (response.status_code, None)
            except httpx.HTTPError as exc:
                result = (None, repr(exc))
            with self._lock:
                self.deliveries.append(WebhookDelivery(payload["id"], event, payload["status"],
                                                       webhook_id, url, *result))


class _Handler(LoopbackHandler):
    fake: FakeReplicate

    def _reply(self, status: int, payload: Any = None, *, body: bytes | None = None,
               content_type: str = "application/json",
               headers: dict[str, str] | None = None) -> None:
        self.reply(status, body=body if body is not None else json.dumps(payload).encode(),
                   content_type=content_type, headers=headers)

    def _problem(self, status: int, title: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        self._reply(status, {"title": title, "detail": detail, "status": status},
                    headers=headers)

    def _record(self) -> Any:
        raw = self.body()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        with self.fake._lock:
            self.fake.requests.append(RecordedRequest(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                parsed))
        return parsed if raw else {}

    def _api_gate(self) -> bool:
        """Auth, then injected failures. True when the request may go on."""
        if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
            self._problem(401, "Unauthenticated",
                          "You did not pass a valid authentication token")
            return False
        failure = self.fake._take_failure()
        if failure is None:
            return True
        status, retry_after, detail = failure
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        titles = {429: "Too Many Requests", 422: "Input validation failed",
                  404: "Not found"}
        self._problem(status, titles.get(status, "Injected failure"),
                      detail or f"Injected {status} from the fake", headers)
        return False

    def _validated(self, body: Any, model: str | None) -> VersionSchema | None:
        """The version a create runs, or None after answering as Replicate would (by name:
        official models only; by version: community models only; then the input schema)."""
        catalogue = self.fake.catalogue
        if model is not None:
            schema = catalogue.official(model)
            if schema is None:  # unknown, or a community model: by version only
                self._reply(404, NOT_FOUND)
                return None
            errors = body_errors(body, allowed=BY_NAME_KEYS, needs_version=False)
        else:
            errors = body_errors(body, allowed=BY_VERSION_KEYS, needs_version=True)
            schema = None if errors else catalogue.runnable_version(body.get("version"))
            if not errors and schema is None:
                self._reply(422, INVALID_VERSION)
                return None
        if not errors and schema is not None:
            errors = input_errors(schema.input, body["input"])
        if errors:
            self._reply(422, validation_problem(errors))
            return None
        return schema

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        if match := re.fullmatch(r"/files/([a-z0-9]+)/(\d+)\.png", self.path):
            with self.fake._lock:
                data = self.fake._files.get(f"{match[1]}/{match[2]}")
            if data is None:
                self._problem(404, "Not found", "This output has expired or never existed.")
            else:
                self._reply(200, body=data, content_type="image/png")
            return
        if match := re.fullmatch(r"/v1/predictions(?:\?cursor=(\d+))?", self.path):
            if self._api_gate():
                self._reply(200, self.fake._list_page(int(match[1] or 0)))
            return
        if match := re.fullmatch(r"/v1/predictions/([a-z0-9]+)", self.path):
            if not self._api_gate():
                return
            with self.fake._lock:
                known = match[1] in self.fake._predictions
            if not known:
                self._problem(404, "Not found", "Not found.")
                return
            self._reply(200, self.fake.prediction(match[1]))
            return
        self._problem(404, "Not found", "Not found.")

    def do_POST(self) -> None:  # noqa: N802
        body = self._record()
        if self.path.startswith("/v1/") and not self._api_gate():
            return
        model_match = re.fullmatch(r"/v1/models/([\w.-]+)/([\w.-]+)/predictions", self.path)
        if model_match or self.path == "/v1/predictions":
            with self.fake._lock:
                self.fake.create_attempts += 1
            schema = self._validated(body, f"{model_match[1]}/{model_match[2]}"
                                     if model_match else None)
            if schema is None:
                return
            created = self.fake._create(body, schema)
            if self.fake.create_delay:
                time.sleep(self.fake.create_delay)  # made, but the answer is late
            self._reply(201, created)
            return
        if match := re.fullmatch(r"/v1/predictions/([a-z0-9]+)/cancel", self.path):
            canceled = self.fake._cancel(match[1])
            if canceled is None:
                self._problem(404, "Not found", "Not found.")
            else:
                self._reply(200, canceled)
            return
        self._problem(404, "Not found", "Not found.")


FakeReplicate.handler = _Handler  # the handler is written after the fake it serves


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Replicate API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="r8_fake_token")
    parser.add_argument("--webhook-secret", default=None)
    parser.add_argument("--mode", choices=["auto", "manual"], default="auto")
    parser.add_argument("--complete-after", type=float, default=0.2)
    parser.add_argument("--webhook-target", default=None)
    args = parser.parse_args()
    fake = FakeReplicate(token=args.token, webhook_secret=args.webhook_secret, port=args.port,
                         mode=args.mode, complete_after=args.complete_after,
                         webhook_target=args.webhook_target)
    serve_until_interrupted(fake, lambda: {"base_url": fake.base_url, "token": fake.token,
                                           "webhook_secret": fake.webhook_secret})


if __name__ == "__main__":
    main()
