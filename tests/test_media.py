"""Media over HTTP: streamed upload and download, Range, ETag, the size limit, sniffing, dedupe, thumbnails,
and who may read what (uploader, and members of rooms where a message references it)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgpack
import pytest
import trio
from PIL import Image

from chatd.clients.ws import ChatClient, ChatError
from chatd.media.names import clean_filename, content_disposition
from chatd.media.ranges import ByteRange, RangeNotSatisfiable, parse_range
from chatd.media.sniff import sniff
from chatd.node import Node
from chatd.protocol import ErrorCode, Refusal, decode
from chatd.protocol import frames as f
from chatd.protocol import people as p
from tests.conftest import Backing, People, make_config, start_node


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def upload(http: httpx.AsyncClient, token: str, data: bytes | AsyncIterator[bytes], **params: str
                 ) -> httpx.Response:
    return await http.post("/api/media", content=data, params=params, headers=bearer(token))


async def sql(node: Node, statement: str, *args: Any) -> Any:
    """Look at the server's database directly."""
    async def run() -> Any:
        con = await asyncpg.connect(node.config.database_url)
        try:
            return await con.fetchval(statement, *args)
        finally:
            await con.close()
    return await trio.to_thread.run_sync(asyncio.run, run())


async def post(client: ChatClient, room: int, media_id: str, kind: str = "file", body: str = "",
               client_id: str | None = None, **meta: int) -> f.Sent:
    """Send a media message (its caption `body`) referencing an upload; raises ChatError when refused."""
    sent: f.Sent = await client.call(f.Send, room=room, client_id=client_id or str(uuid.uuid4()), kind=kind,
                                     body=body, media=f.MediaRef(id=media_id, **meta))
    return sent


def media_dir(node: Node) -> Path:
    return node.config.media_dir or node.config.data_dir / "media"


def blobs(node: Node) -> list[Path]:
    root = media_dir(node)
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"] if root.exists() else []


def temp_files(node: Node) -> list[Path]:
    tmp = media_dir(node) / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def picture(fmt: str, size: tuple[int, int] = (1000, 600), mode: str = "RGB", **save: Any) -> bytes:
    """An image of noise (which compresses badly, like a photo)."""
    im = Image.effect_noise(size, 64).convert(mode)
    out = io.BytesIO()
    im.save(out, fmt, **save)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# ------------------------------------------------------------------------------------------ round trip

async def test_upload_and_download_round_trip(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    data = os.urandom(300_000)
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        up = await upload(http, ann.access_token, data, filename="../../etc/report\u202egpj.exe")
        assert up.status_code == 201, up.text
        item = up.json()
        assert item["size"] == len(data) and item["sha256"] == hashlib.sha256(data).hexdigest()
        assert item["mime"] == "application/octet-stream" and item["filename"] == "reportgpj.exe"
        assert (item["width"], item["height"], item["thumbnail_id"]) == (None, None, None)
        assert len(item["id"]) == 24 and up.headers["location"] == f"/api/media/{item['id']}"
        sha = item["sha256"]
        assert (media_dir(node) / sha[:2] / sha[2:4] / sha).read_bytes() == data
        assert temp_files(node) == []

        down = await http.get(f"/api/media/{item['id']}", headers=bearer(ann.access_token))
        assert down.status_code == 200 and down.content == data
        h = down.headers
        assert h["content-type"] == "application/octet-stream" and h["content-length"] == str(len(data))
        assert h["etag"] == f'"{sha}"' and h["accept-ranges"] == "bytes" and h["x-content-type-options"] == "nosniff"
        assert h["content-disposition"] == "attachment; filename=\"reportgpj.exe\"; filename*=UTF-8''reportgpj.exe"

        head = await http.head(f"/api/media/{item['id']}", headers=bearer(ann.access_token))
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(data))

        assert (await http.get(f"/api/media/{item['id']}")).status_code == 401
        assert (await http.post("/api/media", content=b"x")).status_code == 401


async def test_bad_uploads_get_clear_errors(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        empty = await upload(http, ann.access_token, b"")
        assert empty.status_code == 400 and empty.json()["code"] == "bad_request"
        form = await http.post("/api/media", files={"file": ("a.png", b"abc")}, headers=bearer(ann.access_token))
        assert form.status_code == 415 and "multipart" in form.json()["message"]
        async def big() -> AsyncIterator[bytes]:
            for _ in range(100):
                yield os.urandom(32_768)
        anonymous = await http.post("/api/media", content=big())  # answered before the body is read
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
        unknown = await http.get("/api/media/AAAAAAAAAAAAAAAAAAAAAAAA", headers=bearer(ann.access_token))
        assert unknown.status_code == 404 and unknown.json() == {"code": "not_found", "message": "no such media"}
        odd = await http.get("/api/media/..%2F..%2Fetc", headers=bearer(ann.access_token))
        assert odd.status_code == 404
    assert temp_files(node) == []


# ------------------------------------------------------------------------------------- Range and ETag

async def test_range_requests(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    data = os.urandom(10_000)
    async with httpx.AsyncClient(base_url=node.http_url, headers=bearer(ann.access_token)) as http:
        item = (await upload(http, ann.access_token, data)).json()
        url, etag = f"/api/media/{item['id']}", f'"{item["sha256"]}"'

        async def get(range_: str, **more: str) -> httpx.Response:
            return await http.get(url, headers={"Range": range_, **more})

        for header, start, stop in [("bytes=0-0", 0, 1), ("bytes=100-199", 100, 200), ("bytes=-500", 9500, 10_000),
                                    ("bytes=500-", 500, 10_000), ("bytes=9000-99999", 9000, 10_000),
                                    ("bytes=-20000", 0, 10_000), ("BYTES = 5-9", 5, 10)]:
            got = await get(header)
            assert got.status_code == 206, (header, got.status_code)
            assert got.content == data[start:stop], header
            assert got.headers["content-range"] == f"bytes {start}-{stop - 1}/10000"
            assert got.headers["content-length"] == str(stop - start)

        for header in ("bytes=10000-", "bytes=20000-20001", "bytes=-0"):
            refused = await get(header)
            assert refused.status_code == 416, header
            assert refused.headers["content-range"] == "bytes */10000" and refused.json()["code"]

        # malformed, several ranges, another unit: ignored, the whole file (RFC 9110 allows it)
        for header in ("bytes=abc", "bytes=5-1", "bytes=0-1,5-6", "items=0-1", "bytes=-", "bytes 0-1"):
            whole = await get(header)
            assert (whole.status_code, whole.content) == (200, data), header

        assert (await get("bytes=0-9", **{"If-Range": etag})).status_code == 206
        assert (await get("bytes=0-9", **{"If-Range": '"stale"'})).status_code == 200


async def test_etag_and_if_none_match(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    async with httpx.AsyncClient(base_url=node.http_url, headers=bearer(ann.access_token)) as http:
        item = (await upload(http, ann.access_token, b"some bytes")).json()
        url, etag = f"/api/media/{item['id']}", f'"{item["sha256"]}"'
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            same = await http.get(url, headers={"If-None-Match": header})
            assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag), header
        changed = await http.get(url, headers={"If-None-Match": '"other"', "Range": "bytes=0-3"})
        assert (changed.status_code, changed.content) == (206, b"some")


# -------------------------------------------------------------------------------------- size limit

async def test_size_limit_is_enforced_while_streaming(nursery: trio.Nursery, backing: Backing,
                                                      tmp_path: Path) -> None:
    running = await start_node(nursery, make_config(backing, tmp_path, max_upload_bytes=100_000))
    node = running.node
    ann = await People(nursery, node).signup("ann")
    sent = 0

    async def body() -> AsyncIterator[bytes]:  # chunked: the server cannot know the size in advance
        nonlocal sent
        for _ in range(200):
            sent += 16_384
            yield os.urandom(16_384)

    async with httpx.AsyncClient(base_url=node.http_url) as http:
        too_big = await upload(http, ann.access_token, body())
        assert too_big.status_code == 413 and too_big.json()["code"] == "too_large"
        assert "100000" in too_big.json()["message"]
        assert blobs(node) == [] and temp_files(node) == []
        assert await sql(node, "SELECT count(*) FROM media WHERE uploader = $1", ann.user_id) == 0

        declared = await upload(http, ann.access_token, os.urandom(100_001))  # Content-Length says so
        assert declared.status_code == 413
        exact = await upload(http, ann.access_token, os.urandom(100_000))
        assert exact.status_code == 201 and exact.json()["size"] == 100_000
        assert len(blobs(node)) == 1 and temp_files(node) == []


# -------------------------------------------------------------------------------- sniffing, dedupe

async def test_content_type_comes_from_the_bytes_not_the_claim(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    png = picture("PNG", (40, 30))
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        up = await http.post("/api/media", content=png, params={"filename": "notes.txt"},
                             headers={**bearer(ann.access_token), "Content-Type": "text/plain"})
        item = up.json()
        assert (item["mime"], item["filename"], item["width"], item["height"]) == ("image/png", "notes.txt", 40, 30)
        down = await http.get(f"/api/media/{item['id']}", headers=bearer(ann.access_token))
        assert down.headers["content-type"] == "image/png" and down.content == png
        assert down.headers["content-disposition"].startswith("inline;")

        html = await http.post("/api/media", content=b"<html><script>alert(1)</script>",
                               headers={**bearer(ann.access_token), "Content-Type": "text/html",
                                        "X-Filename": "page%20%C3%A9.html"})
        assert (html.json()["mime"], html.json()["filename"]) == ("application/octet-stream", "page \u00e9.html")
        served = await http.get(f"/api/media/{html.json()['id']}", headers=bearer(ann.access_token))
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["content-disposition"] == \
            "attachment; filename=\"page _.html\"; filename*=UTF-8''page%20%C3%A9.html"


async def test_identical_bytes_are_stored_once(node: Node, people: People) -> None:
    (ann, bob) = await people.signup("ann"), await people.signup("bob")
    data = os.urandom(50_000)
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        first = (await upload(http, ann.access_token, data)).json()
        second = (await upload(http, bob.access_token, data)).json()
        assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
        assert len(blobs(node)) == 1
        for person, item in ((ann, first), (bob, second)):
            got = await http.get(f"/api/media/{item['id']}", headers=bearer(person.access_token))
            assert got.content == data
        # each upload is its own item: bob's id does not open ann's
        assert (await http.get(f"/api/media/{first['id']}", headers=bearer(bob.access_token))).status_code == 404


# ---------------------------------------------------------------------------------- authorization

async def test_room_members_may_read_what_was_posted_to_them(node: Node, people: People) -> None:
    (ann, ac), (bob, bc), (cat, cc) = await people.new("ann"), await people.new("bob"), await people.new("cat")
    stranger = await people.signup("stranger")
    room = (await ac.call(f.CreateGroup, name="club", members=[bob.user_id, cat.user_id])).room.room
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        item = (await upload(http, ann.access_token, picture("PNG", (640, 480)))).json()
        url, thumb_url = f"/api/media/{item['id']}", f"/api/media/{item['thumbnail_id']}"

        async def status(person_token: str, what: str = url) -> int:
            return (await http.get(what, headers=bearer(person_token))).status_code

        assert await status(bob.access_token) == 404  # not posted anywhere yet
        await post(ac, room, item["id"], "image", "a picture")
        assert [await status(p.access_token) for p in (ann, bob, cat, stranger)] == [200, 200, 200, 404]
        assert [await status(p.access_token, thumb_url) for p in (bob, stranger)] == [200, 404]
        unknown = await http.get(url.replace(item["id"][:4], "zzzz"), headers=bearer(stranger.access_token))
        assert (await http.get(url, headers=bearer(stranger.access_token))).json() == unknown.json()

        # cat is removed: she keeps what was posted before, and nothing after
        await ac.call(f.RemoveMember, room=room, user=cat.user_id)
        later = (await upload(http, ann.access_token, b"posted after cat left")).json()
        await post(ac, room, later["id"])
        assert await status(cat.access_token) == 200
        assert await status(cat.access_token, f"/api/media/{later['id']}") == 404
        assert await status(bob.access_token, f"/api/media/{later['id']}") == 200

        # a deleted message no longer shares its file
        gone = (await upload(http, ann.access_token, b"regretted")).json()
        seq = (await post(ac, room, gone["id"], body="oops")).seq
        assert await status(bob.access_token, f"/api/media/{gone['id']}") == 200
        await ac.call(f.Delete, room=room, seq=seq)
        assert await status(bob.access_token, f"/api/media/{gone['id']}") == 404
        assert await status(ann.access_token, f"/api/media/{gone['id']}") == 200  # still the uploader's
    for client in (ac, bc, cc):
        await client.disconnect()


async def test_joined_visibility_hides_what_came_before_the_join(node: Node, people: People) -> None:
    (ann, ac), (dan, dc) = await people.new("ann"), await people.new("dan")
    room = (await ac.call(f.CreateGroup, name="private", history_visibility="joined")).room.room
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        old = (await upload(http, ann.access_token, b"before dan")).json()
        await post(ac, room, old["id"])
        await ac.call(f.AddMembers, room=room, users=[dan.user_id])
        new = (await upload(http, ann.access_token, b"after dan")).json()
        await post(ac, room, new["id"])
        assert (await http.get(f"/api/media/{old['id']}", headers=bearer(dan.access_token))).status_code == 404
        assert (await http.get(f"/api/media/{new['id']}", headers=bearer(dan.access_token))).status_code == 200
        # the setting applies as it was when each message was sent: a switch to shared opens only what follows
        await ac.call(f.UpdateRoom, room=room, history_visibility="shared")
        assert (await http.get(f"/api/media/{old['id']}", headers=bearer(dan.access_token))).status_code == 404
        shared = (await upload(http, ann.access_token, b"while shared")).json()
        await post(ac, room, shared["id"])
        eve, ec = await people.new("eve")
        await ac.call(f.AddMembers, room=room, users=[eve.user_id])
        assert (await http.get(f"/api/media/{shared['id']}", headers=bearer(eve.access_token))).status_code == 200
        assert (await http.get(f"/api/media/{old['id']}", headers=bearer(eve.access_token))).status_code == 404
    await dc.disconnect()
    await ec.disconnect()


# ------------------------------------------------------------------------------------------ images

async def test_images_get_dimensions_and_a_smaller_thumbnail(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    rotated = Image.effect_noise((800, 400), 64).convert("RGB")
    exif = rotated.getexif()
    exif[0x0112] = 6  # shown rotated by 90 degrees: 400 wide, 800 high
    cases = [
        (picture("PNG", (1000, 600)), "image/png", (1000, 600), "image/jpeg", (320, 192)),
        (picture("JPEG", (1200, 900), quality=95), "image/jpeg", (1200, 900), "image/jpeg", (320, 240)),
        (picture("PNG", (500, 500), mode="RGBA"), "image/png", (500, 500), "image/webp", (320, 320)),
        (picture("GIF", (100, 50)), "image/gif", (100, 50), "image/jpeg", (100, 50)),
        (picture("WEBP", (640, 320)), "image/webp", (640, 320), "image/jpeg", (320, 160)),
    ]
    out = io.BytesIO()
    rotated.save(out, "JPEG", exif=exif)
    cases.append((out.getvalue(), "image/jpeg", (400, 800), "image/jpeg", (160, 320)))
    async with httpx.AsyncClient(base_url=node.http_url, headers=bearer(ann.access_token)) as http:
        for data, mime, size, thumb_mime, thumb_size in cases:
            item = (await upload(http, ann.access_token, data)).json()
            assert (item["mime"], (item["width"], item["height"])) == (mime, size)
            thumb = await http.get(f"/api/media/{item['thumbnail_id']}")
            assert thumb.status_code == 200 and thumb.headers["content-type"] == thumb_mime
            with Image.open(io.BytesIO(thumb.content)) as im:
                assert im.size == thumb_size, mime
            if size[0] > 320:
                assert len(thumb.content) < len(data)


async def test_broken_images_are_stored_without_a_thumbnail(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + png_chunk(b"IEND", b"")
    truncated = picture("PNG", (300, 300))[:200]
    async with httpx.AsyncClient(base_url=node.http_url, headers=bearer(ann.access_token)) as http:
        for data in (b"\x89PNG\r\n\x1a\n" + os.urandom(5000), bomb, truncated, b"\xff\xd8\xff" + b"\0" * 50):
            up = await upload(http, ann.access_token, data)
            assert up.status_code == 201, up.text
            assert up.json()["thumbnail_id"] is None and up.json()["mime"] in ("image/png", "image/jpeg")
            assert (await http.get(f"/api/media/{up.json()['id']}")).content == data
        fine = await upload(http, ann.access_token, picture("PNG", (10, 10)))
        assert fine.json()["thumbnail_id"] is not None
        assert (await http.get("/healthz")).status_code == 200


# ------------------------------------------------------------------------------- pure helpers

@pytest.mark.parametrize(("head", "mime"), [
    (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"), (b"\x89PNG\r\n\x1a\n\0\0", "image/png"),
    (b"GIF89a\x01\0", "image/gif"), (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"), (b"RIFF\0\0\0\0WAVEfmt ", "audio/wav"),
    (b"\0\0\0\x18ftypmp42\0\0\0\0", "video/mp4"), (b"\0\0\0\x14ftypqt  \0\0\0\0", "video/quicktime"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
    (b"OggS\0\x02" + b"\0" * 22 + b"\x01vorbis", "audio/ogg"), (b"ID3\x04\0", "audio/mpeg"),
    (b"\xff\xfb\x90\x64\0", "audio/mpeg"), (b"%PDF-1.7\n", "application/pdf"), (b"PK\x03\x04\x14\0", "application/zip"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'>", "application/octet-stream"),
    (b"<!DOCTYPE html>", "application/octet-stream"), (b"", "application/octet-stream"),
    (b"\xff\xff\xff\xff", "application/octet-stream"),
])
def test_sniff(head: bytes, mime: str) -> None:
    assert sniff(head) == mime


def test_parse_range() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == ByteRange(0, 1)
    assert parse_range("bytes=-3", 10) == ByteRange(7, 10)
    assert parse_range("bytes=4-", 10) == ByteRange(4, 10)
    assert parse_range("bytes=3-2", 10) is None and parse_range("bytes=1-2,4-5", 10) is None
    for unsatisfiable in ("bytes=10-", "bytes=-0"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(unsatisfiable, 10)


def test_file_names() -> None:
    assert clean_filename("C:\\Users\\me\\photo.jpg") == "photo.jpg"
    assert clean_filename("..") is None and clean_filename(" \x00\x1f ") is None and clean_filename(None) is None
    assert clean_filename("a\tb\nc  d.txt") == "a b c d.txt"
    assert clean_filename(".hidden") == "hidden"
    long = clean_filename("x" * 300 + ".jpeg")
    assert long is not None and len(long) == 255 and long.endswith(".jpeg")
    assert content_disposition(True, 'say "hi"; ok\\.png') == \
        "inline; filename=\"say _hi_; ok_.png\"; filename*=UTF-8''say%20%22hi%22%3B%20ok%5C.png"
    assert content_disposition(False, "\u65e5\u672c.pdf") == \
        "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.pdf"



# ------------------------------------------------------------------------------------------ message kinds

async def test_media_messages_carry_their_metadata_to_members(node: Node, people: People) -> None:
    (ann, ac), (bob, bc) = await people.new("ann"), await people.new("bob")
    room = (await ac.call(f.OpenDirect, user=bob.user_id)).room.room
    await bc.collect(room, 1)
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        photo = (await upload(http, ann.access_token, picture("PNG", (640, 480)), filename="beach.png")).json()
        voice = (await upload(http, ann.access_token, b"OggS" + os.urandom(2000), filename="note.ogg")).json()
        doc = (await upload(http, ann.access_token, b"%PDF-1.7\n" + os.urandom(500), filename="plan.pdf")).json()
        await post(ac, room, photo["id"], "image", "at the beach")
        await post(ac, room, voice["id"], "audio", duration_ms=4200)
        await post(ac, room, doc["id"], "file", "the plan")
        got = await bc.collect(room, 3)
        assert [(m.kind, m.body) for m in got] == [("image", "at the beach"), ("audio", ""), ("file", "the plan")]
        image, audio, file = (m.media for m in got)
        assert image == f.Media(id=photo["id"], mime="image/png", size=photo["size"], width=640, height=480,
                                file_name="beach.png", thumbnail_id=photo["thumbnail_id"])
        assert audio is not None and (audio.mime, audio.duration_ms, audio.file_name) == ("audio/ogg", 4200, "note.ogg")
        assert file is not None and (file.mime, file.file_name) == ("application/pdf", "plan.pdf")
        history = (await bc.call(f.History, room=room)).messages[-3:]
        assert [m.media for m in history] == [image, audio, file]
        for item in (image, audio, file):  # bob may download what was posted to him
            assert (await http.get(f"/api/media/{item.id}", headers=bearer(bob.access_token))).status_code == 200
        assert (await http.get(f"/api/media/{image.thumbnail_id}", headers=bearer(bob.access_token))).status_code \
            == 200
        assert [r.unread for r in (await bc.call(f.ListRooms)).rooms if r.room == room] == [3]


async def test_a_message_may_carry_only_its_senders_upload_of_the_right_type(node: Node, people: People) -> None:
    (ann, ac), (bob, bc) = await people.new("ann"), await people.new("bob")
    room = (await ac.call(f.CreateGroup, name="club", members=[bob.user_id])).room.room
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        photo = (await upload(http, ann.access_token, picture("JPEG", (300, 200)))).json()
        blob = (await upload(http, ann.access_token, os.urandom(100))).json()
        bobs = (await upload(http, bob.access_token, picture("PNG", (50, 50)))).json()

    async def refused(client: ChatClient, code: str, media_id: str, kind: str) -> str:
        with pytest.raises(ChatError) as err:
            await post(client, room, media_id, kind)
        assert err.value.code == code, err.value
        return str(err.value)

    assert "no such item" in await refused(ac, "not_found", bobs["id"], "image")  # bob's upload, not ann's
    await refused(ac, "not_found", photo["thumbnail_id"], "image")  # a thumbnail is not a message's media
    await refused(ac, "not_found", "A" * 24, "file")
    assert "application/octet-stream, not image" in await refused(ac, "bad_request", blob["id"], "image")
    await refused(ac, "bad_request", photo["id"], "video")
    assert (await post(ac, room, photo["id"], "file")).seq  # an image may always go as a file

    # a retry (same client id) is stored once; nothing refused took a seq
    cid = str(uuid.uuid4())
    first = await post(ac, room, photo["id"], "image", "once", client_id=cid)
    again = await post(ac, room, photo["id"], "image", "once", client_id=cid)
    assert (again.seq, again.duplicate) == (first.seq, True)
    seqs = [m.seq for m in (await bc.call(f.History, room=room)).messages]
    assert seqs == list(range(1, first.seq + 1))


async def test_captions_can_be_edited_and_deleting_hides_the_media(node: Node, people: People) -> None:
    (ann, ac), (bob, bc) = await people.new("ann"), await people.new("bob")
    room = (await ac.call(f.OpenDirect, user=bob.user_id)).room.room
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        clip = (await upload(http, ann.access_token, b"\x00\x00\x00\x18ftypmp42" + os.urandom(800))).json()
        seq = (await post(ac, room, clip["id"], "video", "first try", duration_ms=1500, width=1280, height=720)).seq
        await ac.call(f.Edit, room=room, seq=seq, body="second try")
        (shown,) = [m for m in (await bc.call(f.History, room=room)).messages if m.seq == seq]
        assert shown.body == "second try" and shown.media is not None
        assert (shown.media.mime, shown.media.width, shown.media.height, shown.media.duration_ms) == \
            ("video/mp4", 1280, 720, 1500)
        await ac.call(f.Delete, room=room, seq=seq)
        (gone,) = [m for m in (await bc.call(f.History, room=room)).messages if m.seq == seq]
        assert (gone.deleted, gone.body, gone.media) == (True, None, None)
        assert (await http.get(f"/api/media/{clip['id']}", headers=bearer(bob.access_token))).status_code == 404


@pytest.mark.parametrize(("fields", "problem"), [
    ({"kind": "image"}, "field 'media' is needed for kind image"),
    ({"body": "hi", "media": {"id": "A" * 24}}, "field 'media' is not for a text message"),
    ({"body": ""}, "field 'body' must not be empty in a text message"),
    ({"kind": "sticker", "media": {"id": "A" * 24}}, "kind"),
    ({"kind": "image", "media": {"id": "A" * 24, "duration_ms": 10}}, "'media.duration_ms' is for audio and video"),
    ({"kind": "image", "media": {"id": "A" * 24, "width": 10}}, "video only"),
    ({"kind": "audio", "media": {"id": "A" * 24, "duration_ms": 0}}, "media.duration_ms"),
    ({"kind": "file", "media": {"id": "../../etc/passwd"}}, "media.id"),
])
def test_send_frames_that_do_not_fit_together_are_refused_with_the_reason(fields: dict[str, Any], problem: str
                                                                          ) -> None:
    frame = {"t": "send", "id": 7, "room": 1, "client_id": str(uuid.uuid4()), **fields}
    result = decode(msgpack.packb(frame))
    assert isinstance(result, Refusal) and result.code is ErrorCode.BAD_REQUEST and result.id == 7
    assert problem in result.message, result.message


async def test_avatars_and_room_icons_are_readable_by_who_may_see_them(node: Node, people: People) -> None:
    (ann, ac), (bob, bc) = await people.new("ann"), await people.new("bob")
    stranger = await people.signup("stranger")
    room = (await ac.call(f.CreateGroup, name="club", members=[bob.user_id])).room.room
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        face = (await upload(http, ann.access_token, picture("JPEG", (200, 200)))).json()
        logo = (await upload(http, ann.access_token, picture("PNG", (64, 64)))).json()
        bobs = (await upload(http, bob.access_token, picture("PNG", (64, 64)))).json()
        pdf = (await upload(http, ann.access_token, b"%PDF-1.4 not a picture")).json()

        async def status(person: Any, media_id: str) -> int:
            return (await http.get(f"/api/media/{media_id}", headers=bearer(person.access_token))).status_code

        assert await status(stranger, face["id"]) == 404
        await ac.call(p.UpdateProfile, avatar=face["id"])
        assert [await status(x, face["id"]) for x in (bob, stranger)] == [200, 200]  # avatars: everyone by default
        assert await status(stranger, face["thumbnail_id"]) == 200
        await ac.call(p.UpdateProfile, visibility={"avatar": "contacts"})
        assert [await status(x, face["id"]) for x in (bob, stranger)] == [200, 404]
        for bad in (bobs["id"], pdf["id"]):
            refused = await ac.request(p.UpdateProfile, avatar=bad)
            assert isinstance(refused, f.Error) and refused.code == "not_found" and "avatar" in refused.message

        await ac.call(f.UpdateRoom, room=room, icon=logo["id"])
        assert [await status(x, logo["id"]) for x in (bob, stranger)] == [200, 404]
        refused = await bc.request(f.UpdateRoom, room=room, icon=bobs["id"])  # bob is no admin
        assert isinstance(refused, f.Error) and refused.code == "forbidden"
        refused = await ac.request(f.UpdateRoom, room=room, icon=bobs["id"])  # not ann's upload
        assert isinstance(refused, f.Error) and refused.code == "not_found"
