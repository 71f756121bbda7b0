"""No stored selfie carries EXIF or GPS metadata, by tests on both storage backends.

The same upload runs on local files (FileSystemStorage in a temporary folder) and
on S3 (django-storages against moto's S3 server, started here on 127.0.0.1); the
stored objects are read back past Django (from disk, with boto3) and checked for
every kind of metadata. The image view streams local files privately and sends S3
readers to a short-lived signed URL, to the owner and the company's admins only.
"""

from __future__ import annotations

import io
import urllib.parse
import urllib.request

import pytest
from django.core.files.storage import InMemoryStorage, default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generation.models import Selfie
from teams.models import Membership

from . import images
from .faces import face_image
from .factories import MembershipFactory, UserFactory
from .helpers import consent_for
from .storage_backends import REGION, Backend

# --- Backends ---------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _storage_restored_afterwards():
    """Each test's storage switch is undone: later tests get the test settings' storage."""
    yield
    assert isinstance(storages["default"], InMemoryStorage)
    assert isinstance(default_storage, InMemoryStorage)


# --- Uploading ----------------------------------------------------------------------

def dirty_face() -> bytes:
    """A real portrait (so QA accepts it) carrying EXIF with GPS, XMP, a comment and ICC."""
    data = images.with_all_metadata(face_image("obama.jpg"))
    dirty = Image.open(io.BytesIO(data))
    assert dirty.getexif().get_ifd(0x8825)[2] == (48.0, 51.0, 29.5)  # GPSLatitude
    assert {"exif", "xmp", "comment", "icc_profile"} <= set(dirty.info)
    assert b"http://ns.adobe.com/xap" in data
    return data


def upload_face(tenant) -> Selfie:
    consent_for(tenant.member)
    response = tenant.client_for(tenant.member).post(
        f"/c/{tenant.company.slug}/selfies/",
        {"photos": SimpleUploadedFile("IMG_1234.jpg", dirty_face(), content_type="image/jpeg")},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["ok"] and result["selfie"]["status"] == "accepted", result
    return Selfie.objects.for_company(tenant.company).get(pk=result["selfie"]["id"])


def image_url(selfie: Selfie, slug: str = "alpha") -> str:
    return f"/c/{slug}/selfies/{selfie.pk}/image/"


# --- Tests --------------------------------------------------------------------------

def test_no_stored_selfie_carries_exif_or_gps(tenant_a, backend):
    selfie = upload_face(tenant_a)
    # Only the clean copy and its thumbnail are stored: the upload itself is not kept.
    assert backend.keys() == {selfie.image_key, selfie.thumb_key}
    prefix = f"selfies/c{tenant_a.company.pk}/m{tenant_a.member.pk}/"
    for key in (selfie.image_key, selfie.thumb_key):
        assert key.startswith(prefix)
        data = backend.read(key)
        assert images.metadata_found(data) == [], (backend.kind, key)
        assert b"GPS" not in data and b"48,51" not in data
    stored = Image.open(io.BytesIO(backend.read(selfie.image_key)))
    assert stored.size == (selfie.width, selfie.height) == (910, 1137)
    assert selfie.size_bytes == len(backend.read(selfie.image_key))


def test_s3_objects_are_private_and_encrypted(tenant_a, s3_backend):
    client, bucket = s3_backend
    selfie = upload_face(tenant_a)
    for key in (selfie.image_key, selfie.thumb_key):
        grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
        assert all(g["Grantee"]["Type"] == "CanonicalUser" for g in grants)
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["ContentType"] == "image/jpeg"
        assert not head.get("Metadata")


def test_the_image_view_streams_local_files_privately(tenant_a, local_backend):
    selfie = upload_face(tenant_a)
    response = tenant_a.client_for(tenant_a.member).get(image_url(selfie))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    body = b"".join(response.streaming_content)
    assert body == (local_backend / selfie.image_key).read_bytes()
    assert images.metadata_found(body) == []


def test_a_selfie_whose_file_is_gone_is_a_404_not_a_server_error(tenant_a, local_backend):
    """Erased meanwhile: the file goes first, its row a moment later."""
    selfie = upload_face(tenant_a)
    (local_backend / selfie.image_key).unlink()
    response = tenant_a.client_for(tenant_a.member).get(image_url(selfie))
    assert response.status_code == 404


def test_the_image_view_redirects_s3_readers_to_a_signed_url(tenant_a, s3_backend):
    client, bucket = s3_backend
    selfie = upload_face(tenant_a)
    response = tenant_a.client_for(tenant_a.member).get(image_url(selfie))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    url = response["Location"]
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    assert parts.path == f"/{bucket}/{selfie.image_key}"
    assert "X-Amz-Signature" in url and "X-Amz-Expires=300" in url
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    credential = query["X-Amz-Credential"][0]
    assert credential.startswith("testing/") and f"/{REGION}/s3/" in credential

    # The signed URL works over HTTP, and gives exactly the clean stored bytes.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as fetched:
        assert fetched.status == 200
        body = fetched.read()
    assert body == client.get_object(Bucket=bucket, Key=selfie.image_key)["Body"].read()
    assert images.metadata_found(body) == []
    assert Image.open(io.BytesIO(body)).size == (selfie.width, selfie.height)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_only_the_owner_and_the_company_admins_may_open_the_image(
    tenant_a, tenant_b, request, kind
):
    Backend(kind, request)
    selfie = upload_face(tenant_a)
    ok = 200 if kind == "local" else 302
    assert tenant_a.client_for(tenant_a.member).get(image_url(selfie)).status_code == ok
    assert tenant_a.client_for(tenant_a.admin).get(image_url(selfie)).status_code == ok
    assert tenant_a.client_for(tenant_a.admin).get(
        f"/c/alpha/selfies/{selfie.pk}/thumb/").status_code == ok

    colleague = MembershipFactory(company=tenant_a.company, team=tenant_a.team,
                                  user=UserFactory(email="colleague@alpha.example"),
                                  role=Membership.Role.MEMBER)
    outsider = tenant_b.client_for(tenant_b.admin)
    for client, url in [
        (tenant_a.client_for(colleague), image_url(selfie)),
        (tenant_a.client_for(colleague), f"/c/alpha/selfies/{selfie.pk}/thumb/"),
        (outsider, image_url(selfie)),  # not a member of alpha
        (outsider, image_url(selfie, "bravo")),  # alpha's selfie through bravo's URL
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Location" not in response
