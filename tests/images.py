"""A hostile image corpus, generated in code (no binary files in the repository).

Every builder returns the bytes of one upload. ``CORPUS`` names each with what
intake must do with it: refuse it with a message (``REFUSED``) or turn it into a
correct, clean JPEG (``NORMALISED``). Every image stays small (≤ 640 px) so the
tests that use them are fast.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageDraw, PngImagePlugin

# The picture the orientation files must come back to: grey, with a red block in
# the top-left corner and a blue one in the top-right (so a mirror and a rotation
# that both keep red in a corner are told apart). Landscape, so a missed
# 90-degree turn also shows in the size.
TRUE_SIZE = (384, 288)
BLOCK = (96, 72)
GREY = (128, 128, 128)
RED = (220, 20, 20)
BLUE = (20, 20, 220)

XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    b'xmp:CreatorTool="Likeness hostile corpus" '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.49N" '
    b'exif:GPSLongitude="2,17.67E"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
COMMENT = "Taken at 12 Rue de Rivoli, Paris - home address"


# --- Helpers ------------------------------------------------------------------------

def _encode(image: Image.Image, fmt: str = "JPEG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def textured(size: tuple[int, int] = (400, 320), seed: int = 0) -> Image.Image:
    """A picture with detail (so JPEG data is not trivially small), different per seed."""
    image = Image.new("RGB", size, (90 + seed % 50, 120, 160))
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0], 16):
        shade = (i * 7 + seed * 31) % 255
        draw.rectangle((i, 0, i + 7, size[1]), fill=(shade, 255 - shade, (shade * 3) % 255))
    for j in range(0, size[1], 24):
        draw.line((0, j, size[0], j + 40), fill=(seed * 13 % 255, 40, 200), width=3)
    return image


def true_picture() -> Image.Image:
    image = Image.new("RGB", TRUE_SIZE, GREY)
    image.paste(RED, (0, 0, *BLOCK))
    image.paste(BLUE, (TRUE_SIZE[0] - BLOCK[0], 0, TRUE_SIZE[0], BLOCK[1]))
    return image


def gps_exif(orientation: int | None = None) -> Image.Exif:
    """EXIF with a camera, a date, a GPS position and (optionally) an orientation."""
    exif = Image.Exif()
    exif[0x010F] = "HostileCam"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0131] = "Likeness corpus"  # Software
    if orientation is not None:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:34:56"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (48.0, 51.0, 29.5)  # GPSLatitude
    gps[3] = "E"  # GPSLongitudeRef
    gps[4] = (2.0, 17.0, 40.2)  # GPSLongitude
    return exif


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def with_all_metadata(image: Image.Image) -> bytes:
    """``image`` as a JPEG carrying EXIF with GPS, XMP, a COM comment and an ICC profile."""
    return _encode(image.convert("RGB"), quality=92, exif=gps_exif(), xmp=XMP, comment=COMMENT,
                   icc_profile=srgb_icc())


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


# --- Refused ---------------------------------------------------------------------------

def zero_bytes() -> bytes:
    return b""


def truncated_jpeg() -> bytes:
    data = _encode(textured((480, 360)), quality=90)
    return data[: len(data) // 2]  # headers intact, scan data cut in the middle


def truncated_heic() -> bytes:
    """A HEIC cut after its boxes (libheif opens it, the picture's data is missing)."""
    data = heic_stereo()
    return data[: len(data) * 3 // 4]


def truncated_heic_header() -> bytes:
    """A HEIC cut inside its boxes: libheif cannot even identify it."""
    data = heic_with_alpha()
    return data[: len(data) // 3]


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A PNG whose header claims width×height 8-bit greyscale pixels, with a tiny IDAT.

    Written byte by byte: the pixels are never allocated here.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    idat = zlib.compress(b"\x00" * 1024, 9)  # a few rows' worth; decoding would need 3.6 GB
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def gif_js_polyglot() -> bytes:
    """A real GIF that is also a script: ``GIF89a/*…*/=1;alert(document.domain);//``.

    The logical screen width bytes are ``/*`` (0x2A2F wide), which opens a JS
    comment; a GIF comment extension closes it and runs the payload.
    """
    gif = _encode(Image.new("P", (320, 320), 3), "GIF",
                  comment=b"*/=1;alert(document.domain);/*")
    assert gif[:6] == b"GIF89a"
    return b"GIF89a/*" + gif[8:] + b"*/"


def svg() -> bytes:
    return (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="400" '
            b'height="400"><rect width="400" height="400" fill="#88a"/>'
            b'<script>alert(document.cookie)</script></svg>\n')


def pdf_renamed() -> bytes:
    """A minimal one-page PDF (uploaded as ``photo.jpg``)."""
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 400 400]>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (320, 320), c) for c in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100,
                   loop=0)


def animated_webp() -> bytes:
    frames = [textured((320, 320), seed=s) for s in range(3)]
    return _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100,
                   loop=0, quality=60)


# --- Normalised ---------------------------------------------------------------------

def jpeg_zip_polyglot() -> bytes:
    """A valid JPEG with a ZIP archive appended (readable by unzip and by image viewers)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.js", "alert(document.cookie)")
        zf.writestr("readme.txt", "this JPEG is also a zip file")
    return _encode(textured((400, 320), seed=5), quality=90) + archive.getvalue()


# CMYK ink per block (left to right) and the sRGB it is (naive conversion).
CMYK_BLOCKS = [((255, 0, 0, 0), (0, 255, 255)),  # cyan
               ((0, 255, 0, 0), (255, 0, 255)),  # magenta
               ((0, 0, 255, 0), (255, 255, 0)),  # yellow
               ((0, 0, 0, 255), (0, 0, 0))]  # black


def cmyk_jpeg() -> bytes:
    """A CMYK JPEG (Adobe APP14, inverted as Photoshop writes it): four ink blocks."""
    image = Image.new("CMYK", (400, 300))
    for i, (ink, _rgb) in enumerate(CMYK_BLOCKS):
        image.paste(ink, (i * 100, 0, i * 100 + 100, 300))
    return _encode(image, quality=95)


# 16-bit grey level per block (left to right) and the 8-bit value it must become.
GREY16_BLOCKS = [(0, 0), (16_384, 64), (32_768, 128), (65_535, 255)]


def png_16bit_grey() -> bytes:
    pixels = np.zeros((300, 400), dtype=np.uint16)
    for i, (level, _expected) in enumerate(GREY16_BLOCKS):
        pixels[:, i * 100:i * 100 + 100] = level
    image = Image.fromarray(pixels)
    assert image.mode == "I;16"
    data = _encode(image, "PNG")
    assert data[24:26] == b"\x10\x00", "bit depth 16, colour type greyscale"
    return data


def heic_with_alpha() -> bytes:
    """A 320×320 HEIC, left half fully transparent, right half opaque red."""
    image = Image.new("RGBA", (320, 320), (200, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 160, 320))  # transparent *black*: white only if flattened
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=90)
    return buffer.getvalue()


def heic_stereo(alpha: bool = False) -> bytes:
    """Two top-level pictures, as an iPhone spatial photo holds its two eyes: the primary
    (here the second item, as a file may order them) is the true picture; the other eye is
    plain green. With ``alpha`` the primary has a transparent strip on the left, as a HEIC
    cut out by an editor has."""
    primary = true_picture().convert("RGBA")
    if alpha:
        primary.paste((0, 0, 0, 0), (0, 96, 24, 192))
    heif = pillow_heif.from_pillow(Image.new("RGB", TRUE_SIZE, (0, 200, 0)))
    heif.add_from_pillow(primary if alpha else primary.convert("RGB"))
    buffer = io.BytesIO()
    heif.save(buffer, quality=90, primary_index=1)
    return buffer.getvalue()


# How a camera stores the true picture for each EXIF orientation (TIFF/EXIF 2.3,
# tag 0x0112): the stored pixels are the true picture transformed so that the
# orientation's display operation (in the comment) brings it back.
_STORED_AS = {
    1: None,  # displayed as stored
    2: Image.Transpose.FLIP_LEFT_RIGHT,  # display: mirror horizontally
    3: Image.Transpose.ROTATE_180,  # display: rotate 180°
    4: Image.Transpose.FLIP_TOP_BOTTOM,  # display: mirror vertically
    5: Image.Transpose.TRANSPOSE,  # display: mirror along the main diagonal
    6: Image.Transpose.ROTATE_90,  # stored turned 90° CCW; display: rotate 90° CW
    7: Image.Transpose.TRANSVERSE,  # display: mirror along the anti-diagonal
    8: Image.Transpose.ROTATE_270,  # stored turned 90° CW; display: rotate 90° CCW
}


def oriented_jpeg(orientation: int) -> bytes:
    method = _STORED_AS[orientation]
    picture = true_picture()
    stored = picture if method is None else picture.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(stored, quality=95, exif=exif)


def jpeg_huge_exif() -> bytes:
    """A JPEG whose APP1 EXIF block is ~60 KB (a long UserComment and MakerNote)."""
    exif = gps_exif()
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9286] = b"ASCII\x00\x00\x00" + b"U" * 40_000  # UserComment
    exif_ifd[0x927C] = bytes(range(256)) * 78  # MakerNote, ~20 KB of opaque bytes
    raw = exif.tobytes()
    assert 55_000 < len(raw) < 65_000, len(raw)
    return _encode(textured((400, 320), seed=7), quality=90, exif=raw)


def jpeg_gps_xmp_comment() -> bytes:
    return with_all_metadata(textured((400, 320), seed=9))


def png_text_exif() -> bytes:
    """A PNG with tEXt/iTXt chunks (incl. XMP) and an eXIf chunk with GPS."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", COMMENT)
    info.add_text("Author", "Someone Private")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode("utf-8"))
    data = _encode(textured((400, 320), seed=11), "PNG", pnginfo=info, exif=gps_exif())
    assert b"tEXt" in data and b"eXIf" in data
    return data


def mpo_jpeg() -> bytes:
    """A multi-picture JPEG (MPO: a photo plus a second picture, as phones and
    stereo cameras write): a still photo, whose first picture is the one kept."""
    first = true_picture()
    second = Image.new("RGB", TRUE_SIZE, (0, 200, 0))
    return _encode(first, "MPO", save_all=True, append_images=[second], quality=95)


# --- The corpus ---------------------------------------------------------------------

REFUSED = "refused"
NORMALISED = "normalised"


@dataclass(frozen=True)
class Specimen:
    name: str
    filename: str  # as uploaded: the name and type are never trusted
    build: Callable[[], bytes]
    outcome: str  # REFUSED or NORMALISED
    message: str = ""  # for REFUSED: a fragment of the message the person sees


_NOT_A_PHOTO = "not a photo we can use"

CORPUS: list[Specimen] = [
    Specimen("zero_bytes", "empty.jpg", zero_bytes, REFUSED, "empty"),
    Specimen("truncated_jpeg", "cut.jpg", truncated_jpeg, REFUSED, "damaged or incomplete"),
    Specimen("png_bomb", "bomb.png", png_bomb, REFUSED, "too many pixels"),
    Specimen("gif_js_polyglot", "photo.jpg", gif_js_polyglot, REFUSED, _NOT_A_PHOTO),
    Specimen("svg", "photo.svg", svg, REFUSED, _NOT_A_PHOTO),
    Specimen("pdf_renamed", "photo.jpg", pdf_renamed, REFUSED, _NOT_A_PHOTO),
    # GIF is not on the allow-list at all, animated or not.
    Specimen("animated_gif", "anim.gif", animated_gif, REFUSED, _NOT_A_PHOTO),
    Specimen("animated_webp", "anim.webp", animated_webp, REFUSED, "animation"),
    Specimen("jpeg_zip_polyglot", "photo.jpg", jpeg_zip_polyglot, NORMALISED),
    Specimen("cmyk_jpeg", "cmyk.jpg", cmyk_jpeg, NORMALISED),
    Specimen("png_16bit_grey", "grey16.png", png_16bit_grey, NORMALISED),
    Specimen("heic_with_alpha", "IMG_0001.HEIC", heic_with_alpha, NORMALISED),
    Specimen("heic_stereo", "IMG_0002.HEIC", heic_stereo, NORMALISED),
    Specimen("heic_stereo_alpha", "IMG_0003.HEIC", lambda: heic_stereo(alpha=True), NORMALISED),
    Specimen("truncated_heic", "IMG_0004.HEIC", truncated_heic, REFUSED, "damaged or incomplete"),
    Specimen("truncated_heic_header", "IMG_0005.HEIC", truncated_heic_header, REFUSED,
             "damaged or incomplete"),
    *[Specimen(f"orientation_{n}", f"orientation_{n}.jpg", (lambda n=n: oriented_jpeg(n)),
               NORMALISED) for n in range(1, 9)],
    Specimen("jpeg_huge_exif", "huge_exif.jpg", jpeg_huge_exif, NORMALISED),
    Specimen("jpeg_gps_xmp_comment", "gps.jpg", jpeg_gps_xmp_comment, NORMALISED),
    Specimen("png_text_exif", "text.png", png_text_exif, NORMALISED),
    Specimen("mpo_jpeg", "DSCF0001.JPG", mpo_jpeg, NORMALISED),
]

BY_NAME = {specimen.name: specimen for specimen in CORPUS}


# --- Checks on what intake keeps ------------------------------------------------------

# JPEG markers allowed before the scan in a clean file: JFIF APP0, quantisation and
# Huffman tables, frame headers, restart interval. No APP1 (EXIF/XMP), APP2 (ICC,
# MPF), other APPn or COM.
_CLEAN_MARKERS = {0xE0, 0xDB, 0xC4, 0xDD, 0xC0, 0xC1, 0xC2}


def jpeg_markers(data: bytes) -> list[int]:
    """The marker bytes of the segments before the first scan (SOS) of a JPEG."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    markers, pos = [], 2
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF, f"bad segment at {pos}"
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan
            break
        markers.append(marker)
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return markers


def metadata_found(data: bytes) -> list[str]:
    """Every trace of metadata in a stored JPEG; ``[]`` for a clean file."""
    found = []
    image = Image.open(io.BytesIO(data))
    if image.format != "JPEG":
        found.append(f"format {image.format}")
    if image.getexif():
        found.append(f"EXIF {dict(image.getexif())}")
    found += [f"info[{key!r}]" for key in ("exif", "xmp", "icc_profile", "comment",
                                          "XML:com.adobe.xmp", "mp", "mpoffset")
              if key in image.info]
    found += [f"bytes {needle!r}" for needle in (b"Exif", b"http://ns.adobe.com/xap",
                                                 b"ICC_PROFILE", b"HostileCam",
                                                 COMMENT.encode())
              if needle in data]
    found += [f"segment 0x{m:02X}" for m in jpeg_markers(data) if m not in _CLEAN_MARKERS]
    return found
