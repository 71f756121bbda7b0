"""Decode an untrusted upload and re-encode a clean, normalised copy.

The file's name and declared type are never trusted: the bytes are decoded by an
allow-list of Pillow decoders, and what we keep is a fresh JPEG written from the
pixels alone, so no metadata block (EXIF, GPS, XMP, ICC, comments) and nothing
appended to the file (polyglots) survives. The original bytes are not kept.

At the decoder's limit (bench/intake.py): a JPEG is decoded by libjpeg at the smallest
DCT scale (1/1, 1/2, 1/4, 1/8) that still covers the target size, other formats are
reduced by a whole factor (a box filter) to the same point, and whatever is left over is
one resize; orientation, colour conversion and the hash then work on the small image. A
HEIC is decoded with every core the process may use (its 512 px tiles in parallel).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import threading
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError


def cores_available() -> int:
    """The cores this process may use: those it may run on, fewer under a container's CPU
    quota (cgroup v2 ``cpu.max``; a pod limited to 1 CPU on a 16-core node has 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


# Only the primary image's own pixels: never an embedded thumbnail in its place (which
# could show something else than the photo), nor depth maps and other auxiliary images
# (decoding them costs time and nothing here uses them).
pillow_heif.register_heif_opener(decode_threads=cores_available(), thumbnails=False,
                                 depth_images=False, aux_images=False)

# Pillow format names we decode. Anything else (GIF, SVG, PDF, TIFF, BMP, PSD…)
# is refused before a decoder for it ever runs.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
FORMAT_LABELS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC/HEIF"}

_SRGB = ImageCms.createProfile("sRGB")
# Formats whose extra frames are an animation (refused). A HEIF file holds several images
# for other reasons (the two eyes of an iPhone spatial photo, bursts, edits): its primary
# image is the photo. An MPO (a JPEG with more pictures after it) is a still photo too.
ANIMATED_FORMATS = ("PNG", "WEBP")
# A decoded picture may be this much smaller than the long-side target when that saves a
# resize: a 12 MP phone photo (4000-4032 px) decodes at 1/2 to 2000-2016 px, not 2048.
COVER = 7 / 8
# HEIF (ISO BMFF) brands: a file that says it is one and cannot be read is damaged.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
                b"mif2", b"miaf"}
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_DAMAGED = ("The photo could not be read; the file may be damaged or incomplete. "
            "Please export it again and retry.")


class ImageRejected(ValueError):
    """The upload cannot be used. The message is shown to the person as is."""


@dataclass(frozen=True)
class IntakeLimits:
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000  # 50 MP; phones shoot at most ~48 MP
    long_side: int = 2048
    min_side: int = 256
    jpeg_quality: int = 90


@dataclass(frozen=True)
class NormalisedImage:
    jpeg: bytes
    width: int
    height: int
    source_format: str  # one of ALLOWED_FORMATS
    source_width: int
    source_height: int
    sha256: str  # of the normalised pixels' JPEG: same photo, same hash
    image: Image.Image  # the RGB pixels, for QA


def image_normalise(data: bytes, *, limits: IntakeLimits = IntakeLimits()) -> NormalisedImage:
    """Decode ``data`` and return the clean copy, or raise ImageRejected saying why."""
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"The file is {mb(len(data))}; the limit is {mb(limits.max_bytes)}."
        )
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse both.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = _open(data, limits)
            # An MPO is a JPEG with more pictures after the photo (a preview, a depth
            # map, a second lens), as many cameras and phones write: a still photo.
            is_mpo = image.format == "MPO"
            if image.format in ANIMATED_FORMATS and getattr(image, "n_frames", 1) > 1:
                raise ImageRejected(
                    "This is an animation. Please upload a still photo (JPEG, PNG, WebP or HEIC)."
                )
            source_format = "JPEG" if is_mpo else (image.format or "")
            source_size = image.size
            # Read before any resize: a resized copy carries no EXIF. HEIF arrives turned
            # already (pillow-heif applies the orientation and resets the tag to 1).
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            icc = image.info.get("icc_profile")
            if image.format in ("JPEG", "MPO"):
                # libjpeg scales while decoding (DCT scaling): 1/2 of a 12 MP photo costs
                # a third of the full decode, and no resize is left to do.
                image.draft("RGB", _cover_size(image.size, limits.long_side))
            image.load()
            image = _shrink(_plain_mode(image), limits.long_side)
            method = _ORIENTATION.get(orientation) if isinstance(orientation, int) else None
            if method is not None:
                image = image.transpose(method)
            if icc:  # kept by every step above; said again for the one that may not
                image.info["icc_profile"] = icc
            image = _to_srgb(image)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(limits) from exc
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError, RuntimeError) as exc:
            # Truncated or corrupt data fails inside the decoder.
            raise ImageRejected(_DAMAGED) from exc
    if min(image.size) < limits.min_side:
        raise ImageRejected(
            f"The photo is only {image.width}×{image.height} pixels; "
            f"it needs at least {limits.min_side} pixels on each side."
        )
    out = io.BytesIO()
    # No exif=, icc_profile=, comment= or xmp=: the new file carries pixels only. Baseline,
    # not progressive: a third of the encoding time for a file 2 % larger.
    image.save(out, format="JPEG", quality=limits.jpeg_quality, optimize=True)
    jpeg = out.getvalue()
    return NormalisedImage(
        jpeg=jpeg, width=image.width, height=image.height, source_format=source_format,
        source_width=source_size[0], source_height=source_size[1],
        sha256=hashlib.sha256(image.tobytes()).hexdigest(), image=image,
    )


def _cover_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The smallest size a decoder may stop at: the picture scaled to COVER × long_side."""
    scale = min(1.0, COVER * long_side / max(size))
    return max(1, int(size[0] * scale)), max(1, int(size[1] * scale))


def _plain_mode(image: Image.Image) -> Image.Image:
    """8 bits a channel, in a mode every resize takes (palette and 16-bit images are
    converted first; a 16-bit grey is scaled to 8 bits rather than clipped)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return image.convert("I").point(lambda v: v / 256).convert("L")
    if image.mode in ("P", "PA", "1"):
        transparent = image.mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB")
    return image


def _shrink(image: Image.Image, long_side: int) -> Image.Image:
    """Down to at most ``long_side``: first by the largest whole factor that still covers
    COVER × long_side (a box filter: cheap, and the right filter for a whole factor),
    then one Lanczos resize for what is left, if anything is. The image's info (its ICC
    profile) goes along."""
    if max(image.size) <= long_side:
        return image
    factor = int(max(image.size) / (COVER * long_side))
    if factor >= 2:
        image = image.reduce(factor)
    if max(image.size) > long_side:
        scale = long_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def mb(size: int) -> str:
    """Sizes as people see them in file browsers (MiB), with a decimal when it matters."""
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 10 else f"{value:.1f} MB"


def _open(data: bytes, limits: IntakeLimits) -> Image.Image:
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except UnidentifiedImageError as exc:
            if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
                # It says it is a HEIC and libheif cannot even read its boxes: cut short.
                raise ImageRejected(_DAMAGED) from exc
            raise ImageRejected(
                "This file is not a photo we can use. Please upload a JPEG, PNG, WebP or "
                "HEIC (iPhone) photo."
            ) from exc
        if image.width * image.height > limits.max_pixels:
            raise _too_large(limits)
        return image
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _too_large(limits: IntakeLimits) -> ImageRejected:
    return ImageRejected(
        f"The photo has too many pixels (the limit is {limits.max_pixels // 1_000_000} "
        "megapixels). Please upload a normal camera photo."
    )


def _to_srgb(image: Image.Image) -> Image.Image:
    """Any mode and colour space in, 8-bit sRGB RGB out."""
    icc = image.info.get("icc_profile")
    image = _plain_mode(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
        image = image.convert("RGB")
    if icc:
        try:
            if image.mode not in ("RGB", "CMYK", "L"):
                image = image.convert("RGB")
            transform = _srgb_transform(icc, image.mode)
            if transform is not None:
                image = ImageCms.applyTransform(image, transform)
        except (ImageCms.PyCMSError, OSError, ValueError):
            # A broken profile is not worth refusing the photo for.
            image = image.convert("RGB")
    if image.mode == "CMYK" and not icc:
        image = _cmyk_to_rgb(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.info.clear()
    return image


_transforms = threading.local()  # LittleCMS transforms are not shared across threads


def _srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A transform from ``icc`` to sRGB, built once per profile (and thread); None when the
    profile is sRGB already (most Android phones and cameras): nothing to convert."""
    cache: dict = _transforms.__dict__.setdefault("cache", {})
    key = (hashlib.sha256(icc).digest(), mode)
    if key not in cache:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(source) or ""
        srgb = mode == "RGB" and description.strip().lower().startswith("srgb")
        if len(cache) >= 32:
            cache.pop(next(iter(cache)))
        cache[key] = None if srgb else ImageCms.buildTransform(source, _SRGB, mode, "RGB")
    return cache[key]


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    # Adobe writes CMYK JPEGs inverted; Pillow's JPEG decoder already undoes that,
    # so the naive formula is right here.
    return image.convert("RGB")
