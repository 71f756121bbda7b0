"""Approved headshots in the sizes, shapes and formats directories want, behind signed,
expiring URLs (the signature is the permission, so a script or a directory can fetch the
image without a session or an API key)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.encoding import force_bytes
from PIL import Image

from core.inputs import InputInvalid, int_bounded
from core.rls import company_scope
from generation.models import Candidate, Headshot
from generation.selectors import headshots_that_may_leave

SIZES = (256, 512, 1024)
SHAPES = ("square", "look")
FORMATS = {"jpeg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png"),
           "webp": ("WEBP", "image/webp")}
_SALT = "likeness.headshot-variant"


@dataclass(frozen=True)
class Variant:
    size: int = 1024
    shape: str = "look"
    format: str = "jpeg"

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(map(str, SIZES))}")
        if self.shape not in SHAPES:
            raise ValueError("shape must be square or look")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")

    @property
    def content_type(self) -> str:
        return FORMATS[self.format][1]

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "jpeg" else self.format


def variant_render(candidate: Candidate, variant: Variant) -> bytes:
    """The variant's bytes. Square crops keep the top of the frame, where the face is in
    every framing our looks use (head-and-shoulders, chest-up)."""
    with default_storage.open(candidate.image_key, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    image = image.convert("RGB")
    if variant.shape == "square":
        side = min(image.size)
        left = (image.width - side) // 2
        top = min(image.height - side, int((image.height - side) * 0.15))
        image = image.crop((left, top, left + side, top + side))
    image.thumbnail((variant.size, variant.size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    pil_format = FORMATS[variant.format][0]
    options = {"quality": 90} if pil_format in ("JPEG", "WEBP") else {"optimize": True}
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def variant_url(headshot: Headshot, variant: Variant, *, ttl: int | None = None,
                absolute: bool = True) -> str:
    """A URL that serves this variant until it expires (default: API_IMAGE_URL_TTL)."""
    return variant_url_maker(variant, ttl=ttl, absolute=absolute)(
        company_id=headshot.company_id, headshot_id=headshot.pk,
        candidate_id=headshot.candidate_id)


def variant_url_maker(variant: Variant, *, ttl: int | None = None,
                      absolute: bool = True) -> Callable[..., str]:
    """``variant_url`` for many headshots (an API page): the signer, the settings and the
    path around the token are looked up once, not once a row. The tokens are byte for byte
    those of ``signing.dumps(claims, salt=_SALT)`` (tests/test_variant_links.py compares
    them over many claims), so ``variant_resolve`` reads them with ``signing.loads``."""
    ttl = ttl if ttl is not None else settings.API_IMAGE_URL_TTL_SECONDS
    signer = signing.TimestampSigner(salt=_SALT)
    sign = _payload_signer(signer)
    head, tail = _variant_path(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    if absolute:
        head = f"{settings.SITE_URL.rstrip('/')}{head}"
    size, shape, image_format = variant.size, variant.shape, variant.format
    # The claims' JSON as JSONSerializer writes it (compact, keys in this order): only the
    # three ids and the expiry change from row to row, and an int is written as repr does.
    middle = (f',"s":{json.dumps(size)},"sh":{json.dumps(shape)},'
              f'"f":{json.dumps(image_format)},"e":')

    def url(*, company_id: int, headshot_id: int, candidate_id: int) -> str:
        now = int(time.time())
        if type(company_id) is int and type(headshot_id) is int and type(candidate_id) is int:
            data = (f'{{"c":{company_id},"h":{headshot_id},"k":{candidate_id}{middle}'
                    f'{now + ttl}}}').encode("latin-1")
            token = sign(data, now)
        else:  # not a plain int (a bool writes as true): as signing writes it
            token = signer.sign_object({"c": company_id, "h": headshot_id, "k": candidate_id,
                                        "s": size, "sh": shape, "f": image_format,
                                        "e": now + ttl})
        return f"{head}{token}{tail}"

    return url


def _payload_signer(signer: signing.TimestampSigner) -> Callable[[bytes, int], str]:
    """``signer.sign_object(obj)`` for the JSON bytes of ``obj`` at the time ``now``, made
    cheap for a page of tokens. Django's path derives the HMAC key from the secret (a hash)
    and builds the JSON on every call, ~40 µs a token: here the key is derived once and each
    token's HMAC is a copy of one keyed object. The rest is the same steps: URL-safe base64
    without padding, the base62 time, then the HMAC of all that.

    Not compressed: zlib saved a few characters on some tokens of ~100 bytes and cost ~6 µs
    on every one (a third of an API page's per-row time). Tokens signed compressed by an
    earlier version still resolve (``signing.loads`` reads both forms)."""
    hasher = getattr(hashlib, signer.algorithm)
    key = hasher(force_bytes(signer.salt + "signer") + force_bytes(signer.key)).digest()
    keyed = hmac.new(key, digestmod=hasher)
    sep = signer.sep
    stamps: dict[int, str] = {}

    def sign(data: bytes, now: int) -> str:
        stamp = stamps.get(now)
        if stamp is None:
            stamp = stamps[now] = signing.b62_encode(now)
        value = f"{signing.b64_encode(data).decode()}{sep}{stamp}"
        mac = keyed.copy()
        mac.update(value.encode())
        return f"{value}{sep}{signing.b64_encode(mac.digest()).decode()}"

    return sign


@functools.lru_cache(maxsize=16)
def _variant_path(_prefix: str, _urlconf: str | None) -> tuple[str, str]:
    """The variant URL around its token, reversed once per script prefix and URLconf: an
    API page of 50 headshots called ``reverse`` 50 times (~0.1-0.4 ms each)."""
    head, tail = reverse("headshot_variant", kwargs={"token": "TOKEN"}).rsplit("TOKEN", 1)
    return head, tail


def variant_resolve(token: str) -> tuple[Candidate, Variant] | None:
    """The candidate and variant a token names, or None if forged, expired, malformed, or the
    headshot is no longer this photo (re-approved, or erased)."""
    try:
        claims = signing.loads(token, salt=_SALT)
    except (signing.BadSignature, ValueError):  # ValueError: a bad zlib or JSON payload
        return None
    # Signed by us, but checked as strictly as outside input: a token made by an older
    # version, or with a leaked key, must still not reach a query with the wrong types.
    if not isinstance(claims, dict) or not all(
            type(claims.get(name)) is int for name in ("c", "h", "k", "s", "e")):
        return None
    try:
        company_id, headshot_id, candidate_id, size, expires = (
            int_bounded(claims.get(name), minimum=1) for name in ("c", "h", "k", "s", "e"))
        shape, image_format = claims.get("sh"), claims.get("f")
        if not isinstance(shape, str) or not isinstance(image_format, str):
            return None
        variant = Variant(size=size, shape=shape, format=image_format)
    except (InputInvalid, ValueError):
        return None
    if expires < time.time():
        return None
    with company_scope(company_id):  # our signature names the company (core/rls.py)
        headshot = headshots_that_may_leave(company=company_id).filter(
            pk=headshot_id, candidate_id=candidate_id).first()
        if headshot is None:
            return None
        candidate = Candidate.objects.for_company(company_id).filter(
            pk=headshot.candidate_id).first()
    return (candidate, variant) if candidate is not None else None
