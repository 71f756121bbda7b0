"""boto3 1.36+ adds CRC checksums to every upload and validates them on downloads, which
several S3-compatible stores refuse: our S3 client sends and checks them only where an
operation requires one, unless the environment asks for more."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from .storage_backends import moto_endpoint, production_s3_options, s3_backend  # noqa: F401


def test_the_s3_client_computes_checksums_only_when_required(monkeypatch):
    monkeypatch.delenv("AWS_REQUEST_CHECKSUM_CALCULATION", raising=False)
    monkeypatch.delenv("AWS_RESPONSE_CHECKSUM_VALIDATION", raising=False)
    config = production_s3_options(monkeypatch, bucket="b", endpoint="http://s3.test")[
        "client_config"]
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.signature_version == "s3v4"


def test_the_environment_can_ask_for_checksums(monkeypatch):
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported")
    monkeypatch.setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported")
    config = production_s3_options(monkeypatch, bucket="b", endpoint="http://s3.test")[
        "client_config"]
    assert config.request_checksum_calculation == "when_supported"
    assert config.response_checksum_validation == "when_supported"


@pytest.mark.django_db
def test_an_upload_carries_no_checksum_headers_and_reads_back(s3_backend):  # noqa: F811
    sent: list[dict[str, str]] = []
    client = default_storage.connection.meta.client
    client.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **kwargs: sent.append({k.lower(): v for k, v in request.headers.items()}))
    key = default_storage.save("selfies/c1/checksum.jpg", ContentFile(b"\xff\xd8 not a jpeg"))
    assert sent, "the upload was not seen"
    assert not [h for h in sent[0] if h.startswith("x-amz-checksum-")
                or h == "x-amz-sdk-checksum-algorithm"], sent[0]
    assert "aws-chunked" not in str(sent[0].get("content-encoding", ""))
    with default_storage.open(key, "rb") as handle:
        assert handle.read() == b"\xff\xd8 not a jpeg"
