"""generation.backends.replicate_api against the local fake, through the real client."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import RequestFactory
from PIL import Image

from generation.backends import replicate_api as api
from generation.looks import look_spec_example

from .fakes import replicate as fake
from .images import textured

new_webhook_secret = fake.new_webhook_secret

KONTEXT = "black-forest-labs/flux-kontext-pro"
PHOTOMAKER = "tencentarc/photomaker"
INSTANT_ID = "zsxkib/instant-id"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _jpeg(size: tuple[int, int] = (480, 600), quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    textured(size).convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _create(model: str = KONTEXT, *, seed: int = 7, webhook_url: str | None = None,
            preset: str = "corporate") -> api.Prediction:
    return api.prediction_create(model=model, selfie_jpeg=_jpeg(), look=look_spec_example(preset),
                                 seed=seed, webhook_url=webhook_url)


def _wait_terminal(prediction_id: str, timeout: float = 5.0) -> api.Prediction:
    deadline = time.monotonic() + timeout
    while True:
        prediction = api.prediction_get(prediction_id)
        if prediction.status in api.TERMINAL_STATUSES or time.monotonic() > deadline:
            return prediction
        time.sleep(0.05)


# --- Predictions ----------------------------------------------------------------------


def test_create_get_succeeds_and_outputs_download(fake_replicate):
    prediction = _create()
    assert prediction.status == "starting" and prediction.id and prediction.created_at
    [create] = fake_replicate.requests_to("POST", "/v1/")
    assert create.path == f"/v1/models/{KONTEXT}/predictions"
    assert create.headers["authorization"] == f"Bearer {fake_replicate.token}"
    assert create.json["input"]["input_image"].startswith("data:image/jpeg;base64,")
    assert "webhook" not in create.json  # none asked for

    done = _wait_terminal(prediction.id)
    assert done.status == "succeeded" and done.error is None
    assert isinstance(fake_replicate.prediction(prediction.id)["output"], str)
    assert len(done.output_urls) == 1  # Kontext's single URL string, normalised
    data = api.output_download(done.output_urls[0])
    assert data.startswith(PNG_MAGIC)
    assert Image.open(io.BytesIO(data)).size == (819, 1024)  # 4:5, long side 1024


def test_list_output_is_normalised_and_webhook_is_requested(fake_replicate):
    fake_replicate.drop_webhooks = True
    prediction = _create(PHOTOMAKER, webhook_url="https://app.example/hooks/replicate")
    [create] = fake_replicate.requests_to("POST", "/v1/")
    assert create.json["webhook"] == "https://app.example/hooks/replicate"
    assert create.json["webhook_events_filter"] == ["start", "completed"]
    done = _wait_terminal(prediction.id)
    assert isinstance(fake_replicate.prediction(prediction.id)["output"], list)
    assert done.output_urls == fake_replicate.prediction(prediction.id)["output"]


def test_community_models_run_by_their_pinned_version(fake_replicate, settings):
    settings.REPLICATE_MODELS = {**settings.REPLICATE_MODELS,
                                 INSTANT_ID: settings.REPLICATE_OPT_IN_VERSIONS[INSTANT_ID]}
    for model in (PHOTOMAKER, INSTANT_ID):
        _create(model)
    photomaker, instant_id = fake_replicate.requests_to("POST", "/v1/")
    assert photomaker.path == instant_id.path == "/v1/predictions"
    assert photomaker.json["version"] == settings.REPLICATE_MODELS[PHOTOMAKER]
    assert instant_id.json["version"] == settings.REPLICATE_OPT_IN_VERSIONS[INSTANT_ID]
    assert instant_id.json["input"]["image"].startswith("data:image/jpeg;base64,")
    assert fake_replicate.creates == 2  # the fake's schema checks passed both


def test_a_model_is_only_run_at_its_pinned_version(fake_replicate, settings):
    pinned = settings.REPLICATE_MODELS[PHOTOMAKER]
    _create(f"{PHOTOMAKER}:{pinned}")
    with pytest.raises(api.ReplicateError) as caught:
        _create(f"{PHOTOMAKER}:{'0' * 64}")
    assert caught.value.transient is False
    settings.REPLICATE_MODELS = {**settings.REPLICATE_MODELS, PHOTOMAKER: "f" * 64}
    with pytest.raises(api.ReplicateError, match="No input schema"):
        _create(PHOTOMAKER)  # a pin without a copied schema is never sent
    assert fake_replicate.creates == 1


def test_instant_id_is_opt_in_only(fake_replicate, settings):
    assert INSTANT_ID not in settings.REPLICATE_MODELS
    with pytest.raises(api.ReplicateError, match="opt-in") as caught:
        _create(INSTANT_ID)
    assert caught.value.transient is False and fake_replicate.requests == []


def test_failed_prediction_carries_its_error(fake_replicate):
    fake_replicate.mode = "manual"
    prediction = _create()
    fake_replicate.complete(prediction.id, status="failed", error="NSFW content detected")
    done = api.prediction_get(prediction.id)
    assert (done.status, done.error, done.output_urls) == ("failed", "NSFW content detected", [])


def test_cancel(fake_replicate):
    fake_replicate.mode = "manual"
    prediction = _create()
    api.prediction_cancel(prediction.id)
    assert fake_replicate.requests_to("POST", f"/v1/predictions/{prediction.id}/cancel")
    assert api.prediction_get(prediction.id).status == "canceled"
    api.prediction_cancel(prediction.id)  # cancelling a finished prediction is harmless


def test_unknown_model_is_refused_before_any_request(fake_replicate):
    with pytest.raises(api.ReplicateError) as caught:
        _create("someone/else")
    assert caught.value.transient is False and fake_replicate.requests == []


# --- Errors ------------------------------------------------------------------------------


def test_429_becomes_rate_limited_with_retry_after(fake_replicate):
    fake_replicate.fail_next(1, 429, retry_after=7)
    with pytest.raises(api.RateLimited) as caught:
        _create()
    assert caught.value.retry_after == pytest.approx(7.0)
    assert caught.value.transient is True and caught.value.status == 429
    assert fake_replicate.creates == 0

    fake_replicate.fail_next(1, 429)  # no Retry-After header
    with pytest.raises(api.RateLimited) as caught:
        _create()
    assert caught.value.retry_after == pytest.approx(1.0)


def test_429_on_get_is_not_retried_behind_our_back(fake_replicate):
    fake_replicate.mode = "manual"
    prediction = _create()
    fake_replicate.fail_next(1, 429, retry_after=30)
    started = time.monotonic()
    with pytest.raises(api.RateLimited):
        api.prediction_get(prediction.id)
    assert time.monotonic() - started < 2  # the client alone would sleep 30 s and retry
    assert len(fake_replicate.requests_to("GET", "/v1/predictions/")) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_transient(fake_replicate, status):
    fake_replicate.fail_next(1, status)
    with pytest.raises(api.ReplicateError) as caught:
        _create()
    assert caught.value.transient is True and not isinstance(caught.value, api.RateLimited)
    assert caught.value.status == status


def test_422_is_permanent_with_the_api_detail(fake_replicate):
    fake_replicate.fail_next(1, 422, detail="- input.seed: Must be less than or equal to 2^31-1")
    with pytest.raises(api.ReplicateError) as caught:
        _create()
    assert caught.value.transient is False and caught.value.status == 422
    assert "Must be less than or equal" in str(caught.value)


def test_bad_token_and_unknown_prediction_are_permanent(fake_replicate, settings):
    with pytest.raises(api.ReplicateError) as caught:
        api.prediction_get("doesnotexist")
    assert (caught.value.transient, caught.value.status) == (False, 404)
    settings.REPLICATE_API_TOKEN = "r8_wrong"
    with pytest.raises(api.ReplicateError) as caught:
        _create()
    assert (caught.value.transient, caught.value.status) == (False, 401)


def test_create_has_a_timeout_and_times_out_transiently(fake_replicate, settings):
    # replicate 1.0.7 sends creates with no timeout at all; ours must still apply.
    settings.REPLICATE_TIMEOUT_SECONDS = 0.3
    fake_replicate.create_delay = 1.5
    started = time.monotonic()
    with pytest.raises(api.ReplicateError) as caught:
        _create()
    assert time.monotonic() - started < 1.2
    assert caught.value.transient is True
    # The prediction exists anyway: a timed-out create is ambiguous, never "nothing happened".
    assert fake_replicate.creates == 1


def test_unreachable_api_is_transient(fake_replicate, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.REPLICATE_BASE_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(api.ReplicateError) as caught:
        api.prediction_get("abc")
    assert caught.value.transient is True


# --- Outputs -----------------------------------------------------------------------------


def test_output_download_limits_and_expiry(fake_replicate):
    fake_replicate.mode = "manual"
    prediction = _create()
    fake_replicate.complete(prediction.id)
    [url] = api.prediction_get(prediction.id).output_urls
    with pytest.raises(api.ReplicateError) as caught:
        api.output_download(url, max_bytes=1000)
    assert caught.value.transient is False
    fake_replicate.expire_outputs()
    with pytest.raises(api.ReplicateError) as caught:
        api.output_download(url)
    assert (caught.value.transient, caught.value.status) == (False, 404)
    with pytest.raises(api.ReplicateError):
        api.output_download("file:///etc/passwd")


def test_output_download_reads_data_uris():
    payload = PNG_MAGIC + b"rest"
    uri = "data:image/png;base64," + base64.b64encode(payload).decode()
    assert api.output_download(uri) == payload


def test_large_selfie_is_shrunk_for_the_data_uri(fake_replicate):
    big = _jpeg((2048, 2560), quality=95)
    assert len(big) > api.DATA_URI_BUDGET
    api.prediction_create(model=KONTEXT, selfie_jpeg=big, look=look_spec_example(), seed=1,
                          webhook_url=None)
    [create] = fake_replicate.requests_to("POST", "/v1/")
    sent = base64.b64decode(create.json["input"]["input_image"].split(",", 1)[1])
    assert len(sent) <= api.DATA_URI_BUDGET
    assert Image.open(io.BytesIO(sent)).format == "JPEG"


# --- Create rate limit ------------------------------------------------------------------


def test_token_bucket_limits_a_burst_then_refills(fake_replicate, settings):
    settings.REPLICATE_CREATES_PER_SECOND = 1.0
    settings.REPLICATE_CREATE_BURST = 2
    _create(seed=1)
    _create(seed=2)
    with pytest.raises(api.RateLimited) as caught:
        _create(seed=3)
    assert api.TOKEN_WAIT_SECONDS < caught.value.retry_after <= 1.05
    assert fake_replicate.creates == 2  # the API never saw the third
    time.sleep(caught.value.retry_after)
    _create(seed=3)
    assert fake_replicate.creates == 3


def test_token_bucket_waits_briefly_instead_of_failing(fake_replicate, settings):
    settings.REPLICATE_CREATES_PER_SECOND = 5.0  # a token every 0.2 s < TOKEN_WAIT_SECONDS
    settings.REPLICATE_CREATE_BURST = 1
    started = time.monotonic()
    _create(seed=1)
    _create(seed=2)
    assert time.monotonic() - started >= 0.1
    assert fake_replicate.creates == 2


def test_token_bucket_without_redis_is_in_process(fake_replicate, settings):
    settings.REDIS_URL = ""
    settings.REPLICATE_CREATES_PER_SECOND = 1.0
    settings.REPLICATE_CREATE_BURST = 1
    _create(seed=1)
    with pytest.raises(api.RateLimited):
        _create(seed=2)


# --- Webhook signatures ------------------------------------------------------------------

BODY = json.dumps({"id": "abc123", "status": "succeeded", "output": ["https://x/1.png"]}).encode()


def _headers(secret: str, *, body: bytes = BODY, timestamp: int | None = None,
             webhook_id: str = "msg_1") -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": api.webhook_sign(webhook_id=webhook_id, timestamp=timestamp,
                                                  body=body, secret=secret)}


@pytest.fixture
def secret(settings) -> str:
    settings.REPLICATE_WEBHOOK_SECRET = new_webhook_secret()
    settings.REPLICATE_WEBHOOK_TOLERANCE_SECONDS = 300
    return settings.REPLICATE_WEBHOOK_SECRET


def test_webhook_verify_accepts_a_signed_body(secret):
    assert api.webhook_verify(headers=_headers(secret), body=BODY)["id"] == "abc123"
    # As our view sees it (Django's request.headers), with several signatures sent.
    signed = _headers(secret)
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in signed.items()}
    meta["HTTP_WEBHOOK_SIGNATURE"] = "v1,bm90IGl0 " + signed["webhook-signature"]
    request = RequestFactory().post("/hooks/replicate", data=BODY,
                                    content_type="application/json", **meta)
    assert api.webhook_verify(headers=request.headers, body=request.body)["status"] == "succeeded"


@pytest.mark.parametrize("case", ["forged", "wrong_secret", "tampered_body", "stale", "future",
                                  "no_id", "no_timestamp", "no_signature", "bad_timestamp"])
def test_webhook_verify_rejects(secret, case):
    now = time.time()
    headers = _headers(secret)
    body = BODY
    if case == "forged":
        headers["webhook-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    elif case == "wrong_secret":
        headers = _headers(new_webhook_secret())
    elif case == "tampered_body":
        body = BODY.replace(b"succeeded", b"failed")
    elif case == "stale":
        now += 301
    elif case == "future":
        now -= 301
    elif case == "bad_timestamp":
        headers["webhook-timestamp"] = "soon"
    else:
        del headers[case.replace("no_", "webhook-")]
    with pytest.raises(api.WebhookInvalid):
        api.webhook_verify(headers=headers, body=body, now=now)


def test_webhook_verify_rejects_non_json_and_a_missing_secret(secret, settings):
    for body in (b"not json", b"[1, 2]"):
        with pytest.raises(api.WebhookInvalid):
            api.webhook_verify(headers=_headers(secret, body=body), body=body)
    settings.REPLICATE_WEBHOOK_SECRET = ""
    with pytest.raises(api.WebhookInvalid) as caught:
        api.webhook_verify(headers=_headers(secret), body=BODY)
    assert "secret" in caught.value.reason


# --- Webhooks from the fake --------------------------------------------------------------


class _Sink:
    """Collects webhook POSTs, the way our endpoint would receive them."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/replicate"

    def events(self) -> list[tuple[str, str]]:
        return [(h["webhook-id"], json.loads(b)["status"]) for h, b in self.received]


@pytest.fixture
def sink():
    sink = _Sink()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


def test_fake_webhooks_are_signed_and_ordered(fake_replicate, sink):
    prediction = _create(webhook_url=sink.url)
    assert fake_replicate.wait_for(lambda: len(sink.received) == 2)
    assert [status for _, status in sink.events()] == ["processing", "succeeded"]
    for headers, body in sink.received:
        assert api.webhook_verify(headers=headers, body=body)["id"] == prediction.id


def test_fake_webhook_misbehaviour(fake_replicate, sink):
    fake_replicate.duplicate_webhooks = True
    fake_replicate.reorder_webhooks = True
    _create(webhook_url=sink.url)
    assert fake_replicate.wait_for(lambda: len(sink.received) == 4)
    events = sink.events()
    assert [status for _, status in events] == ["succeeded", "succeeded", "processing",
                                                "processing"]
    assert events[0][0] == events[1][0] != events[2][0]  # duplicates share a webhook-id

    fake_replicate.duplicate_webhooks = fake_replicate.reorder_webhooks = False
    fake_replicate.forge_signature = True
    sink.received.clear()
    _create(webhook_url=sink.url)
    assert fake_replicate.wait_for(lambda: len(sink.received) == 2)
    with pytest.raises(api.WebhookInvalid):
        api.webhook_verify(headers=sink.received[0][0], body=sink.received[0][1])

    fake_replicate.forge_signature = False
    fake_replicate.drop_webhooks = True
    sink.received.clear()
    prediction = _create(webhook_url=sink.url)
    assert _wait_terminal(prediction.id).status == "succeeded"
    time.sleep(0.1)
    assert sink.received == []


# --- Per-model inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("model", [KONTEXT, PHOTOMAKER, INSTANT_ID])
def test_model_inputs_carry_seed_image_and_prompt(model, settings):
    settings.REPLICATE_MODELS = {**settings.REPLICATE_MODELS, **settings.REPLICATE_OPT_IN_VERSIONS}
    uri = "data:image/jpeg;base64,AAAA"
    look = look_spec_example()
    inputs = api.model_spec(model).inputs(image_uri=uri, look=look, seed=1234)
    assert inputs["seed"] == 1234
    assert uri in inputs.values()
    if model == KONTEXT:
        # An edit instruction naming the backdrop, in the look's aspect ratio.
        assert "#6B7580" in inputs["prompt"] and "slate grey" in inputs["prompt"]
        assert inputs["aspect_ratio"] == "4:5" and inputs["prompt_upsampling"] is False
    elif model == PHOTOMAKER:
        assert len(re.findall(r"\bimg\b", inputs["prompt"])) == 1  # the trigger word, once
        assert not re.search(r"\bimg\b", inputs["negative_prompt"])
    else:
        assert inputs["prompt"] == look.prompt


def test_model_input_details():
    spec = api.model_spec(PHOTOMAKER)
    look = look_spec_example()
    kept = spec.inputs(image_uri="u", look=replace(look, prompt="a photo of a woman img, studio"),
                       seed=2**40)
    assert kept["prompt"] == "a photo of a woman img, studio"
    assert 0 <= kept["seed"] < 2**31
    added = spec.inputs(image_uri="u", look=replace(look, prompt="studio portrait"), seed=1)
    assert len(re.findall(r"\bimg\b", added["prompt"])) == 1
    kontext = api.model_spec(KONTEXT)
    assert {preset: kontext.inputs(image_uri="u", look=look_spec_example(preset), seed=1)
            ["aspect_ratio"] for preset in ("creative", "minimal")} == {"creative": "3:4",
                                                                         "minimal": "1:1"}


def test_replicate_configured(settings):
    settings.REPLICATE_API_TOKEN = ""
    assert api.replicate_configured() is False
    settings.REPLICATE_API_TOKEN = "r8_x"
    assert api.replicate_configured() is True


def test_every_pinned_version_has_its_models_schema(settings):
    from generation.backends.replicate_schemas import version_schema

    pins = {**settings.REPLICATE_MODELS, **settings.REPLICATE_OPT_IN_VERSIONS}
    assert settings.REPLICATE_MODEL == KONTEXT and KONTEXT in settings.REPLICATE_MODELS
    for model, version in pins.items():
        schema = version_schema(version)
        assert schema is not None and schema.model == model and len(version) == 64
        assert schema.official is (model == KONTEXT)  # the others run by version
