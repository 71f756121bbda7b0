"""The Replicate webhook refuses every malformed delivery with a 400 and stores nothing, and a
task or webhook that reaches a job erased meanwhile is a quiet no-op (never a 500)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.test import Client

from generation.backends import replicate_api, replicate_webhooks
from generation.models import GenerationJob, ReplicatePrediction, ReplicateWebhook
from generation.tasks import run_offline_job, sync_prediction

from .helpers import candidate_for, db_fingerprint

SECRET = "whsec_" + base64.b64encode(b"a-secret-for-webhooks-32-bytes!!").decode()


@pytest.fixture
def secret(settings):
    settings.REPLICATE_WEBHOOK_SECRET = SECRET
    return SECRET


def _post(body: bytes, *, webhook_id: str = "msg_1", timestamp: str | None = None,
          signature: str | None = None):
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    if signature is None:
        stamp = int(timestamp) if timestamp.isdigit() and len(timestamp) < 15 else 0
        signature = replicate_api.webhook_sign(webhook_id=webhook_id, timestamp=stamp,
                                               body=body, secret=SECRET)
        if stamp == 0:  # sign what was sent, whatever it is
            signature = "v1," + replicate_webhooks._signature(
                webhook_id=webhook_id, timestamp=timestamp, body=body,
                key=replicate_webhooks._secret_key(SECRET))
    return Client(raise_request_exception=False).post(
        "/webhooks/replicate/", data=body, content_type="application/json",
        HTTP_WEBHOOK_ID=webhook_id, HTTP_WEBHOOK_TIMESTAMP=timestamp,
        HTTP_WEBHOOK_SIGNATURE=signature)


PREDICTION = json.dumps({"id": "abc123", "status": "succeeded"}).encode()


@pytest.mark.django_db
@pytest.mark.parametrize("timestamp", [
    "9" * 400, "9" * 5000, "-1", "+1700000000", "1_700_000_000", " 1700000000", "١٢٣",
    "1e9", "", "nan",
])
def test_a_malformed_timestamp_is_a_400(secret, timestamp):
    before = db_fingerprint()
    response = _post(PREDICTION, timestamp=timestamp)
    assert response.status_code == 400
    assert db_fingerprint() == before


@pytest.mark.django_db
def test_a_timestamp_from_the_future_is_refused_too(secret):
    response = _post(PREDICTION, timestamp=str(int(time.time()) + 3600))
    assert response.status_code == 400 and b"tolerance" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("webhook_id", ["m" * 5000, "m" * 201, "msg 1", "msg_\u00e9"])
def test_an_oversized_or_odd_webhook_id_is_a_400_and_not_stored(secret, webhook_id):
    response = _post(PREDICTION, webhook_id=webhook_id)
    assert response.status_code == 400
    assert not ReplicateWebhook.objects.exists()


@pytest.mark.django_db
def test_a_webhook_id_as_long_as_the_column_is_stored(secret):
    assert _post(PREDICTION, webhook_id="m" * 200).status_code == 200
    assert ReplicateWebhook.objects.get().webhook_id == "m" * 200


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    b"[]", b'"a string"', b"12", b"null", b"true", b"[" * 5000 + b"]" * 5000,
    b'{"id": ' + b"[" * 5000 + b"]" * 5000 + b"}", b"\xff\xfe not utf-8", b"",
    b'{"id": 12}', b'{"id": null}', b'{"id": "' + b"p" * 300 + b'"}', b'{"id": "a b"}',
    b'{"status": "succeeded"}',
])
def test_a_correctly_signed_body_that_is_no_prediction_is_a_400(secret, body):
    before = db_fingerprint()
    response = _post(body)
    assert response.status_code == 400, response.content
    assert db_fingerprint() == before


@pytest.mark.django_db
def test_a_status_of_another_type_is_stored_empty(secret):
    body = json.dumps({"id": "abc123", "status": {"nested": True}}).encode()
    assert _post(body).status_code == 200
    assert ReplicateWebhook.objects.get().status == ""


@pytest.mark.django_db
def test_sync_prediction_for_a_job_erased_meanwhile_is_a_no_op(tenant_a, monkeypatch):
    job = candidate_for(tenant_a.member).job
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        status=GenerationJob.Status.RUNNING)
    ReplicatePrediction.objects.create(company=tenant_a.company, job=job, seed=7,
                                       prediction_id="p-gone", model="m/x", status="processing")

    def erased_while_asking(prediction_id):
        # Consent withdrawn while Replicate answered: the job goes with the person.
        GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).delete()
        return replicate_api.Prediction(id=prediction_id, status="canceled", output_urls=[],
                                        error=None, created_at=None)

    monkeypatch.setattr(replicate_api, "prediction_get", erased_while_asking)
    assert sync_prediction.apply(args=["p-gone"]).get() == "job gone"


@pytest.mark.django_db
def test_an_offline_task_for_a_job_erased_meanwhile_is_a_no_op(tenant_a, monkeypatch):
    job = candidate_for(tenant_a.member).job
    GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).update(
        status=GenerationJob.Status.QUEUED)
    from generation import tasks

    def claim_then_erased(job, lease):
        GenerationJob.objects.for_company(job.company_id).filter(pk=job.pk).delete()
        job.refresh_from_db()
        return True

    monkeypatch.setattr(tasks, "job_claim", claim_then_erased)
    assert run_offline_job.apply(args=[job.pk]).get() == "job gone"
