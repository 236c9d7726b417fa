"""Strip metadata (EXIF with its GPS position, XMP, IPTC, comments, text chunks) from JPEG, PNG and WebP.

A phone photo says where and when it was taken and with what; none of that should reach the people it
is sent to. `strip_metadata` is blocking: call it in a worker thread. An image that carries nothing
but pixels (and what is needed to show them: colour profile, transparency, density) is left as it is,
byte for byte; anything else is decoded and encoded again without the metadata, with its EXIF
orientation applied to the pixels so it shows the same way up. JPEGs are encoded again with their own
quantisation tables and chroma subsampling (about the same size and quality); WebP stays lossless if
it was. An image that cannot be decoded, or is over images.MAX_PIXELS (an animation: all its frames
together, since each is decoded and encoded again), is not touched: the work per upload stays bounded.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, JpegImagePlugin

from chatd.media.images import MAX_PIXELS

log = logging.getLogger("chatd.media")

STRIPPED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP")  # MPO: a JPEG with extra pictures (and their EXIF) after it
# `info` keys that are not metadata about the picture's origin: how to show its pixels
PIXEL_INFO = frozenset({
    "icc_profile", "dpi", "transparency", "gamma", "srgb", "chromaticity", "aspect", "interlace",
    "progressive", "progression", "jfif", "jfif_version", "jfif_unit", "jfif_density", "adobe",
    "adobe_transform", "loop", "duration", "background", "blend", "disposal", "default_image", "bbox",
    "timestamp", "compression"})
# JPEG APPn segments that are not metadata: JFIF header, colour profile, Adobe colour transform
PIXEL_SEGMENTS = (("APP0", b"JFIF"), ("APP2", b"ICC_PROFILE"), ("APP14", b"Adobe"))


def has_metadata(im: Image.Image) -> bool:
    """Whether the image carries anything besides its pixels and how to show them."""
    if any(key not in PIXEL_INFO for key in im.info):
        return True
    applist: list[tuple[str, bytes]] = getattr(im, "applist", [])
    return any(not any(marker == m and data.startswith(p) for m, p in PIXEL_SEGMENTS) for marker, data in applist)


def strip_metadata(src: Path, dst: Path) -> bool:
    """Write `src` to `dst` without its metadata; False (nothing written) when `src` has none or cannot be
    decoded. Blocking."""
    try:
        with Image.open(src, formats=["JPEG", "PNG", "WEBP"]) as im:
            if im.format not in STRIPPED_FORMATS or \
                    im.width * im.height * getattr(im, "n_frames", 1) > MAX_PIXELS:
                return False
            im.load()  # PNG text and eXIf chunks may come after the pixels
            if not has_metadata(im):
                return False
            _save_clean(im, dst, lossless_webp=_webp_lossless(src) if im.format == "WEBP" else False)
            return True
    except Exception as exc:  # untrusted bytes: an image that does not decode is stored as it is
        log.info("metadata not stripped (%s: %s)", type(exc).__name__, exc)
        dst.unlink(missing_ok=True)
        return False


def _save_clean(im: Image.Image, dst: Path, *, lossless_webp: bool) -> None:
    """Save without passing any metadata on (Pillow writes EXIF, XMP and text only when asked to)."""
    keep: dict[str, Any] = {k: im.info[k] for k in ("icc_profile", "dpi") if k in im.info}
    animated = getattr(im, "n_frames", 1) > 1
    if im.format in ("JPEG", "MPO"):
        upright = ImageOps.exif_transpose(im)
        upright.info = {}  # Pillow would write a JPEG comment from it
        sampling = JpegImagePlugin.get_sampling(im)
        options = {"qtables": getattr(im, "quantization", None), **({"subsampling": sampling} if sampling >= 0 else {})}
        upright.save(dst, "JPEG", progressive=bool(im.info.get("progressive")), **options, **keep)
    elif animated:  # each frame as it is (EXIF orientation on an animation is rare and not applied)
        extra = {"lossless": lossless_webp, "quality": 90} if im.format == "WEBP" else {}
        im.save(dst, im.format, save_all=True, **extra, **keep)
    else:
        upright = ImageOps.exif_transpose(im)
        upright.info = {}
        if im.format == "PNG":
            if "transparency" in im.info and upright.mode == im.mode:
                keep["transparency"] = im.info["transparency"]
            upright.save(dst, "PNG", **keep)
        else:
            upright.save(dst, "WEBP", lossless=lossless_webp, quality=90, **keep)


def _webp_lossless(path: Path) -> bool:
    """Whether a WebP file's (first) image is lossless (a VP8L chunk, at the top or in the first frame)."""
    with open(path, "rb") as fh:
        data = fh.read(1 << 20)
    at = 12
    while at + 8 <= len(data):
        kind, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        if kind == b"VP8L" or (kind == b"ANMF" and data[at + 24:at + 28] == b"VP8L"):
            return True
        if kind in (b"VP8 ", b"ANMF"):
            return False
        at += 8 + size + (size & 1)
    return False
