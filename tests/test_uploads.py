"""Upload limits and hygiene (issue 16): the daily quota and the uploads-at-once cap (enforced while the body
streams, across processes), EXIF/GPS stripped from stored images, and the media collector (unreferenced
uploads and unused blobs go after a grace period, safely against a send racing it)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import asyncpg
import httpx
import pytest
import trio
from PIL import ExifTags, Image, PngImagePlugin

from chatd.clients.ws import ChatClient, ChatError
from chatd.node import Node
from chatd.persistence.bridge import aio
from chatd.protocol import frames as f
from chatd.protocol import people as p
from chatd.runtime.config import Config, ConfigError
from tests.conftest import Backing, People, make_config, start_node
from tests.test_media import bearer, blobs, media_dir, picture, post, sql, temp_files, upload
from tests.test_people import eventually


def slow_body(chunks: int, size: int, go: trio.Event) -> AsyncIterator[bytes]:
    """A chunked body: one chunk at once, the rest after `go` (the server cannot know the size in advance)."""
    async def body() -> AsyncIterator[bytes]:
        yield os.urandom(size)
        await go.wait()
        for _ in range(chunks - 1):
            yield os.urandom(size)
    return body()


async def media_count(node: Node, user_id: int) -> int:
    return int(await sql(node, "SELECT count(*) FROM media WHERE uploader = $1", user_id))


# ------------------------------------------------------------------------------------------ quota

async def test_the_daily_quota_stops_an_upload_mid_stream_and_keeps_nothing(nursery: trio.Nursery, backing: Backing,
                                                                          tmp_path: Path) -> None:
    config = make_config(backing, tmp_path / "one", upload_bytes_per_day=100_000)
    node = (await start_node(nursery, config)).node
    other = (await start_node(nursery, make_config(backing, tmp_path / "two", upload_bytes_per_day=100_000))).node
    people = People(nursery, node)
    ann, bob = await people.signup("ann"), await people.signup("bob")
    go = trio.Event()
    go.set()
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        assert (await upload(http, ann.access_token, os.urandom(60_000))).status_code == 201
        crossing = await upload(http, ann.access_token, slow_body(4, 16_384, go))  # 65 536 bytes, chunked
        assert crossing.status_code == 429, crossing.text
        refusal = crossing.json()
        assert refusal["code"] == "quota_exceeded"
        assert "100000 bytes" in refusal["message"] and "40000 left" in refusal["message"]
        assert "00:00 UTC" in refusal["message"] and int(crossing.headers["retry-after"]) <= 86400
        assert await media_count(node, ann.user_id) == 1 and len(blobs(node)) == 1 and temp_files(node) == []

        declared = await upload(http, ann.access_token, os.urandom(40_001))  # Content-Length: refused up front
        assert declared.status_code == 429 and declared.json()["code"] == "quota_exceeded"
        over_a_day = await upload(http, bob.access_token, os.urandom(100_001))
        assert over_a_day.status_code == 413 and "daily upload quota of 100000" in over_a_day.json()["message"]
        # what the refused uploads reserved was given back: exactly the rest of the day still fits
        assert (await upload(http, ann.access_token, os.urandom(40_000))).status_code == 201
        assert (await upload(http, bob.access_token, os.urandom(100_000))).status_code == 201  # per user
    async with httpx.AsyncClient(base_url=other.http_url) as http:  # another process counts the same bytes
        elsewhere = await upload(http, ann.access_token, b"x")
        assert elsewhere.status_code == 429 and elsewhere.json()["code"] == "quota_exceeded"
    assert await media_count(node, ann.user_id) == 2


async def test_uploads_at_once_are_capped_across_processes(nursery: trio.Nursery, backing: Backing,
                                                           tmp_path: Path) -> None:
    node = (await start_node(nursery, make_config(backing, tmp_path / "one", uploads_at_once=2))).node
    other = (await start_node(nursery, make_config(backing, tmp_path / "two", uploads_at_once=2))).node
    ann = await People(nursery, node).signup("ann")
    cache = node.services.cache  # type: ignore[union-attr]
    go = trio.Event()
    done: list[int] = []
    async with httpx.AsyncClient(base_url=node.http_url, timeout=30) as http:
        async def finished() -> bool:
            return len(done) == 2

        async def slow() -> None:
            done.append((await upload(http, ann.access_token, slow_body(3, 10_000, go))).status_code)

        nursery.start_soon(slow)
        nursery.start_soon(slow)
        key = f"{cache.prefix}slots:uploading:{ann.user_id}"

        async def holds(n: int) -> bool:
            return int(await aio(cache.client.zcard)(key)) == n
        await eventually(lambda: holds(2), 10)
        third = await upload(http, ann.access_token, os.urandom(1000))
        assert third.status_code == 429 and third.json()["code"] == "too_many_uploads"
        assert "2 uploads in progress" in third.json()["message"] and third.headers["retry-after"] == "1"
        async with httpx.AsyncClient(base_url=other.http_url) as http2:
            assert (await upload(http2, ann.access_token, os.urandom(1000))).status_code == 429
        go.set()
        await eventually(finished, 10)
        assert done == [201, 201]
        assert (await upload(http, ann.access_token, os.urandom(1000))).status_code == 201
        assert await holds(0)


async def test_a_dead_processs_upload_slots_run_out(node: Node) -> None:
    cache = node.services.cache  # type: ignore[union-attr]
    key = f"test:{uuid.uuid4().hex}"
    assert await cache.take_slot(key, "a", 1, 0.3)
    assert not await cache.take_slot(key, "b", 1, 0.3)
    assert await cache.take_slot(key, "a", 1, 0.3)  # renewing one's own slot
    await trio.sleep(0.4)  # "a" died without dropping it
    assert await cache.take_slot(key, "b", 1, 0.3)


@pytest.mark.parametrize(("setting", "value"), [
    ("upload_bytes_per_day", -1), ("uploads_at_once", 0), ("media_grace_seconds", 0), ("media_gc_seconds", 0)])
def test_upload_settings_are_checked(setting: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"CHAT_{setting.upper()}"):
        Config(**{setting: value}).validated()  # type: ignore[arg-type]
    assert Config.from_env({"CHAT_UPLOAD_BYTES_PER_DAY": "0"}).upload_bytes_per_day == 0  # no limit


# ------------------------------------------------------------------------------------------ metadata

def photo_with_gps() -> bytes:
    """800x400, left half black and right half white, stored sideways (EXIF orientation 6: shown rotated 90
    degrees clockwise, 400 wide and 800 high, black on top), with a GPS position and a camera."""
    im = Image.new("RGB", (800, 400), "white")
    im.paste((0, 0, 0), (0, 0, 400, 400))
    exif = im.getexif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "SpyPhone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (52.0, 31.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", (13.0, 24.0, 36.0)
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=90, comment=b"taken at home")
    return out.getvalue()


async def test_stored_images_carry_no_exif_or_gps_and_show_the_right_way_up(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    original = photo_with_gps()
    assert b"SpyPhone" in original and Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    async with httpx.AsyncClient(base_url=node.http_url, headers=bearer(ann.access_token)) as http:
        item = (await upload(http, ann.access_token, original)).json()
        stored = (await http.get(f"/api/media/{item['id']}")).content
        assert hashlib.sha256(stored).hexdigest() == item["sha256"] and item["size"] == len(stored)
        assert b"SpyPhone" not in stored and b"Exif" not in stored and b"taken at home" not in stored
        with Image.open(io.BytesIO(stored)) as im:
            assert len(im.getexif()) == 0 and "exif" not in im.info and "comment" not in im.info
            assert im.size == (400, 800) == (item["width"], item["height"])
            top, bottom = im.convert("L").crop((0, 0, 400, 400)), im.convert("L").crop((0, 400, 400, 800))
            assert max(top.tobytes()) < 40 and min(bottom.tobytes()) > 215  # black on top, white below
        thumb = (await http.get(f"/api/media/{item['thumbnail_id']}")).content
        with Image.open(io.BytesIO(thumb)) as im:
            assert len(im.getexif()) == 0 and im.size == (160, 320)

        # PNG text and eXIf chunks, and WebP EXIF/XMP, go too; PNG and lossless WebP keep their exact pixels
        plain = Image.effect_noise((60, 40), 64).convert("RGB")
        exif = plain.getexif()
        exif[ExifTags.Base.Make] = "SpyPhone"
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", "SpyPhone was here")
        cases = [("PNG", {"pnginfo": text, "exif": exif}),
                 ("WEBP", {"exif": exif, "xmp": b"<x:xmpmeta>SpyPhone</x:xmpmeta>", "lossless": True})]
        for fmt, options in cases:
            out = io.BytesIO()
            plain.save(out, fmt, **options)
            assert b"SpyPhone" in out.getvalue()
            got = (await upload(http, ann.access_token, out.getvalue())).json()
            stored = (await http.get(f"/api/media/{got['id']}")).content
            assert b"SpyPhone" not in stored, fmt
            with Image.open(io.BytesIO(stored)) as im:
                assert im.format == fmt and im.tobytes() == plain.tobytes(), fmt

        # a JPEG with no metadata is stored byte for byte (not encoded again)
        clean = picture("JPEG", (300, 200))
        got = (await upload(http, ann.access_token, clean)).json()
        assert (await http.get(f"/api/media/{got['id']}")).content == clean


# ------------------------------------------------------------------------------------------ collector

async def test_the_collector_deletes_what_nothing_references_after_the_grace_period(node: Node,
                                                                                   people: People) -> None:
    (ann, ac), (bob, bc) = await people.new("ann"), await people.new("bob")
    room = (await ac.call(f.CreateGroup, name="club", members=[bob.user_id])).room.room
    shared = os.urandom(5000)
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        async def up(person: object, data: bytes) -> dict[str, str]:
            got = await upload(http, person.access_token, data)  # type: ignore[attr-defined]
            assert got.status_code == 201, got.text
            return got.json()  # type: ignore[no-any-return]

        sent = await up(ann, os.urandom(3000))
        await post(ac, room, sent["id"])
        unsent_png = picture("PNG", (400, 400))
        never_sent = await up(ann, unsent_png)  # and its thumbnail
        deleted = await up(ann, os.urandom(3000))
        await ac.call(f.Delete, room=room, seq=(await post(ac, room, deleted["id"])).seq)
        avatar = await up(ann, picture("JPEG", (100, 100)))
        await ac.call(p.UpdateProfile, avatar=avatar["id"])
        icon = await up(ann, picture("PNG", (64, 64)))
        await ac.call(f.UpdateRoom, room=room, icon=icon["id"])
        anns_copy, bobs_copy = await up(ann, shared), await up(bob, shared)  # one blob, two rows
        await post(bc, room, bobs_copy["id"])
        await trio.sleep(1.0)
        young = await up(ann, os.urandom(3000))
        gone_blobs = {never_sent["sha256"], deleted["sha256"]}
        assert gone_blobs <= {b.name for b in blobs(node)}

        collector = node.media_collector
        assert collector is not None
        result = await collector.collect_once(grace=0.8)
        # (the database is shared with the other tests of the run: their uploads may go too)
        assert result.items >= 4 and result.blobs >= 3  # never_sent + thumbnail, deleted, anns_copy; 3 blobs

        async def status(media_id: str) -> int:
            return (await http.get(f"/api/media/{media_id}", headers=bearer(ann.access_token))).status_code

        for item in (never_sent, deleted, anns_copy):
            assert await status(item["id"]) == 404
        assert await status(never_sent["thumbnail_id"]) == 404
        for item in (sent, avatar, icon, young):
            assert await status(item["id"]) == 200
        assert await status(avatar["thumbnail_id"]) == 200
        left = {b.name for b in blobs(node)}
        assert not gone_blobs & left and anns_copy["sha256"] in left  # bob's copy still uses the shared blob
        got = await http.get(f"/api/media/{bobs_copy['id']}", headers=bearer(bob.access_token))
        assert got.content == shared

        refused = await ac.request(f.Send, room=room, client_id=str(uuid.uuid4()), kind="file", body="",
                                   media=f.MediaRef(id=never_sent["id"]))
        assert isinstance(refused, f.Error) and refused.code == "not_found"
        # the same bytes as a collected upload can be uploaded again, and are stored again
        again = await up(ann, unsent_png)
        assert again["sha256"] == never_sent["sha256"] and never_sent["sha256"] in {b.name for b in blobs(node)}
        assert (await http.get(f"/api/media/{again['id']}", headers=bearer(ann.access_token))).status_code == 200


async def test_a_send_racing_the_collector_is_refused_cleanly(node: Node, people: People) -> None:
    """The collector holds the upload's row (FOR UPDATE) and deletes it while a message naming it is being
    committed: the commit waits for it, then finds the upload gone and refuses the message (`not_found`),
    with no message and no reference stored."""
    (ann, ac), (bob, _) = await people.new("ann"), await people.new("bob")
    room = (await ac.call(f.OpenDirect, user=bob.user_id)).room.room
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        item = (await upload(http, ann.access_token, os.urandom(2000))).json()
    locked, go = threading.Event(), threading.Event()

    async def collector_like() -> None:
        con = await asyncpg.connect(node.config.database_url)
        try:
            async with con.transaction():
                await con.execute("SELECT 1 FROM media WHERE id = $1 FOR UPDATE", item["id"])
                locked.set()
                await asyncio.get_running_loop().run_in_executor(None, go.wait)
                await con.execute("DELETE FROM media WHERE id = $1", item["id"])
        finally:
            await con.close()

    outcome: list[object] = []

    async def send(client: ChatClient) -> None:
        try:
            outcome.append(await post(client, room, item["id"]))
        except ChatError as exc:
            outcome.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(trio.to_thread.run_sync, asyncio.run, collector_like()))
        await trio.to_thread.run_sync(locked.wait)
        nursery.start_soon(send, ac)
        await trio.sleep(0.5)
        assert outcome == []  # the commit waits for the collector's lock
        go.set()
    (result,) = outcome
    assert isinstance(result, ChatError) and result.code == "not_found", result
    assert await sql(node, "SELECT count(*) FROM media_refs WHERE room_id = $1", room) == 0
    assert await sql(node, "SELECT count(*) FROM messages WHERE room_id = $1 AND kind = 'file'", room) == 0


async def test_the_node_runs_the_collector(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    config = make_config(backing, tmp_path, media_grace_seconds=1, media_gc_seconds=0.1)
    node = (await start_node(nursery, config)).node
    ann = await People(nursery, node).signup("ann")
    async with httpx.AsyncClient(base_url=node.http_url, headers=bearer(ann.access_token)) as http:
        item = (await upload(http, ann.access_token, os.urandom(1000))).json()
        blob = media_dir(node) / item["sha256"][:2] / item["sha256"][2:4] / item["sha256"]

        async def gone() -> bool:  # the row goes first, the blob right after it (one pass)
            return (await http.get(f"/api/media/{item['id']}")).status_code == 404 and not blob.exists()

        await eventually(gone, 10)


async def test_an_upload_of_bytes_being_deleted_is_refused_then_stored(node: Node, people: People) -> None:
    """The collector decided to delete a blob (doomed) and has not finished: an upload of the same bytes gets
    503 `retry` and no row (its row would point at a blob about to vanish); once the blob is gone, it works."""
    ann = await people.signup("ann")
    data = os.urandom(4000)
    sha = hashlib.sha256(data).hexdigest()
    await sql(node, "INSERT INTO media_doomed_blobs (sha256) VALUES ($1)", sha)
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        refused = await upload(http, ann.access_token, data)
        assert refused.status_code == 503 and refused.json()["code"] == "retry"
        assert refused.headers["retry-after"] == "1" and await media_count(node, ann.user_id) == 0
        collector = node.media_collector
        assert collector is not None
        await collector.collect_once(grace=3600)  # finishes the deletion
        assert await sql(node, "SELECT count(*) FROM media_doomed_blobs WHERE sha256 = $1", sha) == 0
        again = await upload(http, ann.access_token, data)
        assert again.status_code == 201 and again.json()["sha256"] == sha
        got = await http.get(f"/api/media/{again.json()['id']}", headers=bearer(ann.access_token))
        assert got.content == data


def test_an_animation_is_stripped_only_when_all_its_frames_fit_the_pixel_budget(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripping an animation decodes and encodes every frame: the budget counts them all, or a small file of
    many huge frames would hold an image worker for minutes."""
    from chatd.media import strip

    exif = Image.Exif()
    exif[0x010F] = "SpyPhone"
    frames = [Image.new("RGB", (100, 100), color) for color in ("red", "green", "blue")]
    src, dst = tmp_path / "a.png", tmp_path / "clean.png"
    frames[0].save(src, "PNG", save_all=True, append_images=frames[1:], exif=exif)
    monkeypatch.setattr(strip, "MAX_PIXELS", 3 * 100 * 100 - 1)
    assert not strip.strip_metadata(src, dst) and not dst.exists()
    monkeypatch.setattr(strip, "MAX_PIXELS", 3 * 100 * 100)
    assert strip.strip_metadata(src, dst)
    with Image.open(dst) as im:
        assert getattr(im, "n_frames", 1) == 3 and not im.getexif()


async def test_the_collector_sweeps_blobs_whose_rows_were_never_written(node: Node, people: People) -> None:
    """An upload whose bytes were stored but whose rows failed to be written (the database went away at that
    moment) leaves a blob nothing names; the collector's sweep finds it once it is older than the grace
    period, and keeps every blob a row still uses."""
    ann, _ = await people.new("ann")
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        lost = (await upload(http, ann.access_token, os.urandom(2000))).json()
        kept = (await upload(http, ann.access_token, os.urandom(2000))).json()
    await sql(node, "DELETE FROM media WHERE id = $1", lost["id"])  # as if its row had never been written
    old = time.time() - 7200
    for blob in blobs(node):
        os.utime(blob, (old, old))
    collector = node.media_collector
    assert collector is not None
    collector.passes = 0  # the sweep's turn
    await collector.collect_once(grace=3600)
    names = {b.name for b in blobs(node)}
    assert lost["sha256"] not in names and kept["sha256"] in names
