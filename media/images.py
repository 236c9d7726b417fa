"""Image dimensions and thumbnails (Pillow), for JPEG, PNG, GIF and WebP uploads.

`examine` is blocking: call it in a worker thread. Uploads are untrusted, so only those four decoders
are allowed, images over MAX_PIXELS are not decoded (decompression bombs), and any failure to decode
just means no dimensions and no thumbnail: the file itself is kept.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

log = logging.getLogger("chatd.media")

THUMBNAIL_BOX = 320  # a thumbnail fits in this many pixels square
MAX_PIXELS = 50_000_000  # larger images get dimensions but no thumbnail
FORMATS = ["JPEG", "PNG", "GIF", "WEBP"]
ORIENTATION = 0x0112  # EXIF tag

# Pillow refuses to open images over twice this; between once and twice it warns, and we decline first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
              7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    mime: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Picture:
    width: int  # as displayed (after the EXIF orientation)
    height: int
    thumbnail: Thumbnail | None


def examine(path: Path) -> Picture | None:
    """Dimensions and a thumbnail of the image at `path`; None if it cannot be decoded. Blocking."""
    try:
        with Image.open(path, formats=FORMATS) as im:
            orientation = im.getexif().get(ORIENTATION, 1)
            width, height = im.size
            if orientation in (5, 6, 7, 8):
                width, height = height, width
            if width * height > MAX_PIXELS:
                return Picture(width, height, None)
            return Picture(width, height, _thumbnail(im, orientation))
    except Exception as exc:  # untrusted bytes: any decoder failure only means "no picture"
        log.info("not a decodable image (%s: %s); stored without a thumbnail", type(exc).__name__, exc)
        return None


def _thumbnail(im: Image.Image, orientation: int) -> Thumbnail:
    im.seek(0)  # the first frame of an animation
    im.draft("RGB", (THUMBNAIL_BOX, THUMBNAIL_BOX))  # JPEG: decode at a reduced scale
    alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    small = im.convert("RGBA" if alpha else "RGB")
    small.thumbnail((THUMBNAIL_BOX, THUMBNAIL_BOX), Image.Resampling.LANCZOS)
    if orientation in _TRANSPOSE:
        small = small.transpose(_TRANSPOSE[orientation])
    out = io.BytesIO()
    if alpha:  # JPEG has no transparency
        small.save(out, "WEBP", quality=80)
        mime = "image/webp"
    else:
        small.save(out, "JPEG", quality=80, optimize=True, progressive=True)
        mime = "image/jpeg"
    return Thumbnail(out.getvalue(), mime, small.width, small.height)
