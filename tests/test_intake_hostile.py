"""A hostile corpus against intake: every file is refused with a message and leaves
nothing behind, or becomes a correct, clean JPEG. Never a 500, never a partial record.
"""

from __future__ import annotations

import io
import struct

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.errors import ServiceError
from generation.intake.decode import ImageRejected, IntakeLimits, image_normalise
from generation.models import Selfie
from generation.services import selfie_upload

from . import images
from .helpers import consent_for, db_fingerprint, selfie_for

UPLOAD_URL = "/c/alpha/selfies/"
REFUSED = [s for s in images.CORPUS if s.outcome == images.REFUSED]
NORMALISED = [s for s in images.CORPUS if s.outcome == images.NORMALISED]


# --- Helpers ------------------------------------------------------------------------

def stored_files(storage=default_storage) -> set[str]:
    """Every file in ``storage``, walked recursively."""
    found: set[str] = set()

    def walk(path: str) -> None:
        dirs, files = storage.listdir(path)
        found.update(f"{path}/{name}" if path else name for name in files)
        for name in dirs:
            walk(f"{path}/{name}" if path else name)

    walk("")
    return found


def upload(client, data: bytes, filename: str = "photo.jpg", url: str = UPLOAD_URL):
    return client.post(url, {"photos": SimpleUploadedFile(filename, data,
                                                          content_type="image/jpeg")},
                       HTTP_ACCEPT="application/json")


def close(pixel, expected, tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


@pytest.fixture
def member_client(tenant_a):
    consent_for(tenant_a.member)
    return tenant_a.client_for(tenant_a.member)


# What a correct normalised picture looks like, per specimen (applied both to
# image_normalise's pixels and to the file stored by an upload).

def _check_true_picture(image: Image.Image) -> None:
    width, height = images.TRUE_SIZE
    bw, bh = images.BLOCK
    assert image.size == images.TRUE_SIZE
    assert close(image.getpixel((bw // 2, bh // 2)), images.RED), "red block not top-left"
    assert close(image.getpixel((width - bw // 2, bh // 2)), images.BLUE), "blue not top-right"
    for corner in ((bw // 2, height - bh // 2), (width - bw // 2, height - bh // 2),
                   (width // 2, height // 2)):
        assert close(image.getpixel(corner), images.GREY), corner


def _check_cmyk(image: Image.Image) -> None:
    assert image.size == (400, 300)
    for i, (_ink, rgb) in enumerate(images.CMYK_BLOCKS):
        assert close(image.getpixel((i * 100 + 50, 150)), rgb), (i, rgb)


def _check_grey16(image: Image.Image) -> None:
    assert image.size == (400, 300)
    for i, (_level, expected) in enumerate(images.GREY16_BLOCKS):
        assert close(image.getpixel((i * 100 + 50, 150)), (expected,) * 3, tolerance=3)


def _check_heic_alpha(image: Image.Image) -> None:
    assert image.size == (320, 320)
    assert close(image.getpixel((60, 160)), (255, 255, 255), tolerance=6), "not on white"
    assert close(image.getpixel((260, 160)), (200, 0, 0), tolerance=16)


def _check_same_pixels_as_source(name: str):
    def check(image: Image.Image) -> None:
        source = Image.open(io.BytesIO(images.BY_NAME[name].build())).convert("RGB")
        assert image.size == source.size
        # A JPEG re-encode of the same picture: close, not identical.
        for xy in ((10, 10), (200, 160), (390, 310)):
            assert close(image.getpixel(xy), source.getpixel(xy), tolerance=20), xy
    return check


def _check_stereo_alpha(image: Image.Image) -> None:
    _check_true_picture(image)  # the primary picture, not the other eye
    assert close(image.getpixel((10, 140)), (255, 255, 255), tolerance=8), "not on white"


PIXEL_CHECKS = {
    **{f"orientation_{n}": _check_true_picture for n in range(1, 9)},
    "mpo_jpeg": _check_true_picture,
    "cmyk_jpeg": _check_cmyk,
    "png_16bit_grey": _check_grey16,
    "heic_with_alpha": _check_heic_alpha,
    "heic_stereo": _check_true_picture,
    "heic_stereo_alpha": _check_stereo_alpha,
    **{name: _check_same_pixels_as_source(name) for name in
       ("jpeg_zip_polyglot", "jpeg_huge_exif", "jpeg_gps_xmp_comment", "png_text_exif")},
}


def test_every_normalised_specimen_has_a_pixel_check():
    assert {s.name for s in NORMALISED} == set(PIXEL_CHECKS)


# --- Refused files --------------------------------------------------------------------

@pytest.mark.parametrize("specimen", REFUSED, ids=lambda s: s.name)
def test_image_normalise_refuses_with_a_message(specimen):
    with pytest.raises(ImageRejected) as refused:
        image_normalise(specimen.build())
    assert specimen.message in str(refused.value)


@pytest.mark.parametrize("specimen", REFUSED, ids=lambda s: s.name)
def test_upload_view_refuses_and_stores_nothing(tenant_a, member_client, specimen):
    before, files_before = db_fingerprint(), stored_files()
    response = upload(member_client, specimen.build(), specimen.filename)
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and specimen.message in body["error"]
    assert body["results"] == [{"ok": False, "error": body["error"]}]
    assert db_fingerprint() == before
    assert stored_files() == files_before


def test_the_bomb_is_refused_without_allocating_its_pixels():
    data = images.png_bomb()
    assert len(data) < 200
    assert struct.unpack(">II", data[16:24]) == (60_000, 60_000)  # IHDR width, height
    with pytest.raises(ImageRejected, match="too many pixels"):
        image_normalise(data)
    # Also when the claimed size is only just over our limit (Pillow merely warns there).
    with pytest.raises(ImageRejected, match="too many pixels"):
        image_normalise(images.png_bomb(8000, 7000), limits=IntakeLimits(max_pixels=50_000_000))


def test_the_gif_is_also_a_script():
    data = images.gif_js_polyglot()
    assert data.startswith(b"GIF89a/*") and b"*/=1;alert(document.domain);" in data
    assert Image.open(io.BytesIO(data)).format == "GIF"  # a real GIF for a decoder


# --- Normalised files -------------------------------------------------------------------

@pytest.mark.parametrize("specimen", NORMALISED, ids=lambda s: s.name)
def test_image_normalise_returns_a_correct_clean_jpeg(specimen):
    clean = image_normalise(specimen.build())
    assert clean.image.mode == "RGB"
    assert (clean.width, clean.height) == clean.image.size
    assert images.metadata_found(clean.jpeg) == []
    decoded = Image.open(io.BytesIO(clean.jpeg))
    assert decoded.mode == "RGB" and decoded.size == clean.image.size
    PIXEL_CHECKS[specimen.name](clean.image)
    PIXEL_CHECKS[specimen.name](decoded.convert("RGB"))


@pytest.mark.parametrize("specimen", NORMALISED, ids=lambda s: s.name)
def test_upload_view_stores_only_the_clean_copy(tenant_a, member_client, specimen):
    files_before = stored_files()
    response = upload(member_client, specimen.build(), specimen.filename)
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True
    selfie = Selfie.objects.for_company(tenant_a.company).get(membership=tenant_a.member)
    assert stored_files() - files_before == {selfie.image_key, selfie.thumb_key}
    prefix = f"selfies/c{tenant_a.company.pk}/m{tenant_a.member.pk}/"
    assert selfie.image_key.startswith(prefix) and selfie.thumb_key.startswith(prefix)
    for key in (selfie.image_key, selfie.thumb_key):
        with default_storage.open(key, "rb") as stored:
            data = stored.read()
        assert images.metadata_found(data) == [], key
        assert b"PK\x03\x04" not in data
    with default_storage.open(selfie.image_key, "rb") as stored:
        kept = stored.read()
    assert len(kept) == selfie.size_bytes
    PIXEL_CHECKS[specimen.name](Image.open(io.BytesIO(kept)).convert("RGB"))
    assert selfie.source_format in ("JPEG", "PNG", "WEBP", "HEIF")


def test_the_polyglot_loses_its_zip():
    data = images.jpeg_zip_polyglot()
    assert b"PK\x03\x04" in data and b"payload.js" in data
    clean = image_normalise(data).jpeg
    assert b"PK\x03\x04" not in clean and b"payload.js" not in clean
    assert len(clean) < len(data)


def test_the_metadata_specimens_really_carry_metadata():
    """The clean results above mean something only if the inputs were dirty."""
    dirty = images.jpeg_gps_xmp_comment()
    found = " ".join(images.metadata_found(dirty))
    for trace in ("EXIF", "'xmp'", "'icc_profile'", "'comment'", "segment 0xE1",
                  "segment 0xE2", "segment 0xFE"):
        assert trace in found  # the checker sees each kind of metadata
    gps = Image.open(io.BytesIO(dirty))
    assert gps.getexif().get_ifd(0x8825)[2] == (48.0, 51.0, 29.5)
    assert {"exif", "xmp", "icc_profile", "comment"} <= set(gps.info)
    huge = images.jpeg_huge_exif()
    assert len(Image.open(io.BytesIO(huge)).info["exif"]) > 55_000
    png = Image.open(io.BytesIO(images.png_text_exif()))
    assert png.getexif().get_ifd(0x8825) and "Comment" in png.info
    assert "XML:com.adobe.xmp" in png.info
    for n in range(1, 9):
        assert Image.open(io.BytesIO(images.oriented_jpeg(n))).getexif()[0x0112] == n
    assert Image.open(io.BytesIO(images.mpo_jpeg())).n_frames == 2
    assert Image.open(io.BytesIO(images.cmyk_jpeg())).mode == "CMYK"
    assert Image.open(io.BytesIO(images.png_16bit_grey())).mode.startswith("I")
    heic = Image.open(io.BytesIO(images.heic_with_alpha()))
    assert heic.format == "HEIF" and heic.mode == "RGBA"


def test_a_path_traversal_filename_is_never_used(tenant_a, member_client):
    response = upload(member_client, images.oriented_jpeg(1), "../../etc/passwd.jpg")
    assert response.status_code == 200 and response.json()["ok"]

    # The test client sends only the base name; send the raw name as a browser could.
    boundary = "hostile-boundary"
    body = b"".join([
        f"--{boundary}\r\n".encode(),
        b'Content-Disposition: form-data; name="photos"; filename="..\\..\\..\\etc/../'
        b'../../tmp/passwd.jpg"\r\n',
        b"Content-Type: image/jpeg\r\n\r\n",
        images.oriented_jpeg(3),
        f"\r\n--{boundary}--\r\n".encode(),
    ])
    raw = member_client.post(UPLOAD_URL, body, content_type=f"multipart/form-data; "
                             f"boundary={boundary}", HTTP_ACCEPT="application/json")
    assert raw.status_code == 200 and raw.json()["ok"], raw.content

    prefix = f"selfies/c{tenant_a.company.pk}/m{tenant_a.member.pk}/"
    selfies = list(Selfie.objects.for_company(tenant_a.company))
    assert len(selfies) == 2
    for selfie in selfies:
        for key in (selfie.image_key, selfie.thumb_key):
            assert key.startswith(prefix) and ".." not in key
            assert "passwd" not in key and "etc" not in key.removeprefix(prefix)
            assert default_storage.exists(key)
    assert not any("passwd" in name for name in stored_files())


# --- Limits: size, duplicates, count, consent ----------------------------------------

def test_a_file_over_the_byte_cap_is_refused(tenant_a, member_client, settings):
    settings.SELFIE_MAX_BYTES = 1024 * 1024
    data = images.oriented_jpeg(1) + b"\0" * 1_600_000  # a valid JPEG, padded past the cap
    before, files_before = db_fingerprint(), stored_files()
    response = upload(member_client, data)
    assert response.status_code == 400
    # Sizes in MiB, as file browsers show them, the same unit the upload page states.
    assert response.json()["error"] == "The file is 1.5 MB; the limit is 1.0 MB."
    assert db_fingerprint() == before and stored_files() == files_before
    # The service refuses on its own too (for callers other than the view).
    with pytest.raises(ServiceError, match="limit is 1.0 MB"):
        selfie_upload(company=tenant_a.company, actor=tenant_a.member,
                      membership=tenant_a.member, data=data)
    with pytest.raises(ImageRejected, match="limit"):
        image_normalise(data, limits=IntakeLimits(max_bytes=1024 * 1024))
    assert db_fingerprint() == before and stored_files() == files_before
    # Just under the cap is fine.
    assert upload(member_client, images.oriented_jpeg(1)).status_code == 200


def test_the_same_photo_twice_is_refused_as_a_duplicate(tenant_a, member_client):
    photo = images.textured((400, 320), seed=21)
    first = upload(member_client, images._encode(photo, quality=90))
    assert first.status_code == 200
    before, files_before = db_fingerprint(), stored_files()
    again = upload(member_client, images._encode(photo, quality=90), "copy.jpg")
    assert again.status_code == 400 and "already uploaded this photo" in again.json()["error"]
    # The same pixels with metadata added are the same photo.
    tagged = images._encode(photo, quality=90, exif=images.gps_exif(), comment=images.COMMENT)
    assert tagged != images._encode(photo, quality=90)
    assert "already uploaded" in upload(member_client, tagged).json()["error"]
    assert db_fingerprint() == before and stored_files() == files_before


def test_the_21st_photo_is_refused(tenant_a, member_client, settings):
    assert settings.SELFIES_MAX_PER_PERSON == 20
    for seed in range(20):
        selfie_for(tenant_a.member, images._encode(images.textured((300, 260), seed), quality=80))
    before, files_before = db_fingerprint(), stored_files()
    response = upload(member_client, images.oriented_jpeg(2))
    assert response.status_code == 400
    assert response.json()["error"] == ("You already have 20 photos. "
                                        "Delete one to add another.")
    assert db_fingerprint() == before and stored_files() == files_before


def test_an_upload_without_consent_is_refused_and_stores_nothing(tenant_a):
    client = tenant_a.client_for(tenant_a.member)
    before, files_before = db_fingerprint(), stored_files()
    response = upload(client, images.oriented_jpeg(1))
    assert response.status_code == 403
    assert response.json() == {"ok": False,
                               "error": "Photos can only be uploaded after consent is given."}
    with pytest.raises(ServiceError, match="consent"):
        selfie_upload(company=tenant_a.company, actor=tenant_a.member,
                      membership=tenant_a.member, data=images.oriented_jpeg(1))
    assert db_fingerprint() == before and stored_files() == files_before


def test_a_plain_form_upload_without_consent_is_sent_to_the_consent_page(tenant_a):
    client = tenant_a.client_for(tenant_a.member)
    before, files_before = db_fingerprint(), stored_files()
    response = client.post(UPLOAD_URL, {"photos": SimpleUploadedFile(
        "photo.jpg", images.oriented_jpeg(1))})
    assert db_fingerprint() == before and stored_files() == files_before
    page = client.get(response["Location"], follow=True)  # the upload page sends them on
    assert page.redirect_chain[-1][0].endswith("/consent/")
    assert "Photos can only be uploaded after consent is given." in page.content.decode()


def test_an_upload_reads_the_consent_once(tenant_a, member_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert upload(member_client, images.oriented_jpeg(1)).status_code == 200
    assert sum("privacy_consentrecord" in q["sql"] for q in queries.captured_queries) == 1


# --- Batches and failures half-way -----------------------------------------------------

def test_a_batch_keeps_the_good_files_and_says_why_for_the_rest(tenant_a, member_client):
    files_before = stored_files()
    response = member_client.post(UPLOAD_URL, {"photos": [
        SimpleUploadedFile("a.jpg", images.oriented_jpeg(6), content_type="image/jpeg"),
        SimpleUploadedFile("b.jpg", images.png_bomb(), content_type="image/jpeg"),
        SimpleUploadedFile("c.jpg", images.svg(), content_type="image/jpeg"),
    ]}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    body = response.json()
    assert [r["ok"] for r in body["results"]] == [True, False, False]
    assert body["ok"] is False and "too many pixels" in body["error"]
    selfie = Selfie.objects.for_company(tenant_a.company).get()
    assert stored_files() - files_before == {selfie.image_key, selfie.thumb_key}


@pytest.mark.parametrize("failing_call", [1, 2, 3])
def test_a_storage_or_database_failure_leaves_no_file_and_no_row(
    tenant_a, member_client, monkeypatch, failing_call
):
    """Saving the image, the thumbnail or the row fails: nothing is left behind."""
    calls = {"save": 0}
    real_save = default_storage.save

    def flaky_save(name, content, *args, **kwargs):
        calls["save"] += 1
        if calls["save"] == failing_call:
            raise OSError("storage unavailable")
        return real_save(name, content, *args, **kwargs)

    def failing_create(*args, **kwargs):
        raise RuntimeError("database unavailable")

    if failing_call == 3:
        monkeypatch.setattr(Selfie.objects, "create", failing_create)
    else:
        monkeypatch.setattr(default_storage, "save", flaky_save)
    before, files_before = db_fingerprint(), stored_files()
    with pytest.raises((OSError, RuntimeError)):
        selfie_upload(company=tenant_a.company, actor=tenant_a.member,
                      membership=tenant_a.member, data=images.oriented_jpeg(4))
    monkeypatch.undo()
    assert db_fingerprint() == before
    assert stored_files() == files_before
