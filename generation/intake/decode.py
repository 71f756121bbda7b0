"""Decode an untrusted upload and re-encode a clean, normalised copy.

The file's name and declared type are never trusted: the bytes are decoded by an
allow-list of Pillow decoders, and what we keep is a fresh JPEG written from the
pixels alone, so no metadata block (EXIF, GPS, XMP, ICC, comments) and nothing
appended to the file (polyglots) survives. The original bytes are not kept.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

# Pillow format names we decode. Anything else (GIF, SVG, PDF, TIFF, BMP, PSD…)
# is refused before a decoder for it ever runs.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
FORMAT_LABELS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC/HEIF"}

_SRGB = ImageCms.createProfile("sRGB")


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
            frames = getattr(image, "n_frames", 1)
            # An MPO is a JPEG with more pictures after the photo (a preview, a depth
            # map, a second lens), as many cameras and phones write: a still photo.
            is_mpo = image.format == "MPO"
            if frames > 1 and not is_mpo:
                raise ImageRejected(
                    "This is an animation. Please upload a still photo (JPEG, PNG, WebP or HEIC)."
                )
            source_format = "JPEG" if is_mpo else (image.format or "")
            image.load()
            source_size = image.size
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGB", "RGBA", "L", "LA", "CMYK") and max(image.size) > limits.long_side:
                # Shrinking first makes the colour conversion ~4x cheaper on 12 MP photos.
                icc = image.info.get("icc_profile")
                image.thumbnail((limits.long_side, limits.long_side), Image.Resampling.LANCZOS)
                if icc:
                    image.info["icc_profile"] = icc
            image = _to_srgb(image)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(limits) from exc
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            # Truncated or corrupt data fails inside the decoder.
            raise ImageRejected(
                "The photo could not be read; the file may be damaged or incomplete. "
                "Please export it again and retry."
            ) from exc
    if min(image.size) < limits.min_side:
        raise ImageRejected(
            f"The photo is only {image.width}×{image.height} pixels; "
            f"it needs at least {limits.min_side} pixels on each side."
        )
    if max(image.size) > limits.long_side:
        image.thumbnail((limits.long_side, limits.long_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # No exif=, icc_profile=, comment= or xmp=: the new file carries pixels only.
    image.save(out, format="JPEG", quality=limits.jpeg_quality, optimize=True, progressive=True)
    jpeg = out.getvalue()
    return NormalisedImage(
        jpeg=jpeg, width=image.width, height=image.height, source_format=source_format,
        source_width=source_size[0], source_height=source_size[1],
        sha256=hashlib.sha256(image.tobytes()).hexdigest(), image=image,
    )


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
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: scale to 8 bits rather than clip.
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
        image = image.convert("RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if image.mode not in ("RGB", "CMYK", "L"):
                image = image.convert("RGB")
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            # A broken profile is not worth refusing the photo for.
            image = image.convert("RGB")
    if image.mode == "CMYK" and not icc:
        image = _cmyk_to_rgb(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.info.clear()
    return image


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    # Adobe writes CMYK JPEGs inverted; Pillow's JPEG decoder already undoes that,
    # so the naive formula is right here.
    return image.convert("RGB")
