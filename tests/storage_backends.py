"""Both storage backends for tests: local files in a temporary folder, and S3 through
django-storages against moto's S3 server on 127.0.0.1, configured exactly as production's
settings build it. `backend` runs a test once on each and reads what was stored past Django."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path

import boto3
import pytest

# Where the settings build STORAGES (run afresh, so it reads the environment set here).
STORAGE_SETTINGS = "config.settings.components.storage"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # a free port
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def production_s3_options(monkeypatch, *, bucket: str, endpoint: str) -> dict:
    """STORAGES["default"]["OPTIONS"] exactly as the settings build it for S3
    (config/settings/components/storage.py)."""
    for name, value in {"AWS_STORAGE_BUCKET_NAME": bucket, "AWS_S3_ENDPOINT_URL": endpoint,
                        "AWS_S3_REGION_NAME": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SIGNED_URL_TTL_SECONDS", raising=False)
    monkeypatch.delenv("AWS_S3_SSE", raising=False)
    default = importlib.reload(importlib.import_module(STORAGE_SETTINGS)).STORAGES["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    return default["OPTIONS"]


@pytest.fixture
def local_backend(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path), "base_url": "/media-not-public/"},
    }}
    return tmp_path


@pytest.fixture
def s3_backend(settings, monkeypatch, moto_endpoint):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    bucket = f"likeness-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=bucket)
    options = production_s3_options(monkeypatch, bucket=bucket, endpoint=moto_endpoint)
    assert options | {
        "bucket_name": bucket, "endpoint_url": moto_endpoint, "access_key": "testing",
        "secret_key": "testing", "region_name": REGION, "querystring_auth": True,
        "querystring_expire": 300, "default_acl": "private", "file_overwrite": False,
    } == options, "production S3 options differ from what these tests assume"
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}}
    return client, bucket


class Backend:
    """Reads what a backend stored without going through Django."""

    def __init__(self, kind: str, request):
        self.kind = kind
        if kind == "local":
            self.root: Path = request.getfixturevalue("local_backend")
        else:
            self.client, self.bucket = request.getfixturevalue("s3_backend")

    def keys(self) -> set[str]:
        if self.kind == "local":
            return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                    if p.is_file()}
        listing = self.client.list_objects_v2(Bucket=self.bucket)
        return {item["Key"] for item in listing.get("Contents", [])}

    def read(self, key: str) -> bytes:
        if self.kind == "local":
            return (self.root / key).read_bytes()
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture(params=["local", "s3"])
def backend(request) -> Backend:
    return Backend(request.param, request)
