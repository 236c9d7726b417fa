"""The content type of an upload, from its first bytes (magic numbers); the client's claim is never used.

Only types recognised here are served as anything but application/octet-stream, and none of them is
active content (no HTML, SVG or XML), so a file served inline cannot run script.
"""

from __future__ import annotations

SNIFF_BYTES = 512  # how much of the start of a file `sniff` wants to see
OCTET_STREAM = "application/octet-stream"
IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})  # decoded for size and thumbnail

EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "image/heic": ".heic", "image/avif": ".avif", "video/mp4": ".mp4", "video/quicktime": ".mov",
    "audio/mp4": ".m4a", "video/webm": ".webm", "video/x-matroska": ".mkv", "audio/ogg": ".ogg",
    "video/ogg": ".ogv", "audio/mpeg": ".mp3", "audio/aac": ".aac", "audio/wav": ".wav",
    "application/pdf": ".pdf", "application/zip": ".zip", OCTET_STREAM: ".bin",
}

_FTYP_BRANDS = {
    b"qt  ": "video/quicktime", b"M4A ": "audio/mp4", b"M4B ": "audio/mp4",
    b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heic", b"msf1": "image/heic",
    b"avif": "image/avif", b"avis": "image/avif",
}


def sniff(head: bytes) -> str:
    """The MIME type of a file that starts with `head` (give it SNIFF_BYTES, or the whole file if shorter)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(head[8:12], OCTET_STREAM)
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, or WebM by its DocType
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"theora" in head[:128] else "audio/ogg"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "application/zip"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    return _mpeg_frame(head)


def _mpeg_frame(head: bytes) -> str:
    """An MPEG audio frame header (MP3 without ID3 tag) or an ADTS (AAC) one."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return OCTET_STREAM
    if head[1] & 0xF6 == 0xF0:  # ADTS: sync 0xFFF, layer 00
        return "audio/aac"
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    if version != 0b01 and layer != 0b00 and bitrate != 0xF and rate != 0b11:
        return "audio/mpeg"
    return OCTET_STREAM


def shown_inline(mime: str) -> bool:
    """Whether a browser may show it in place (pictures, video, sound); everything else is downloaded."""
    return mime.startswith(("image/", "video/", "audio/"))
