"""``Chat``: the SDK's entry point. One account, one cache file, one live connection kept up for you.

    async with Chat.open("ws://127.0.0.1:8765/", "ann.sqlite3", http_url="http://127.0.0.1:8766/") as chat:
        await chat.login("ann", "correct horse 1")      # or signup(...), or resume() with cached tokens
        room = (await chat.open_direct("bob")).room
        await chat.send(room, "hi bob")                  # retried with the same client id until stored
        async for event in chat.events():                # acked as each message is handed to you
            ...
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import mimetypes
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from msgspec import structs

from chatd.clients.sdk.cache import Cache, open_cache
from chatd.clients.sdk.events import ConnectionChanged, Event, MessageDecrypted, NewMessage, SessionEnded
from chatd.clients.sdk.history import History
from chatd.clients.sdk.link import REQUEST_ERRORS, ClosedForGood, Link, LinkFailed
from chatd.clients.sdk.media import MediaApi, Upload
from chatd.clients.sdk.qr import QrLogin, start_qr_login, wait_for_approval
from chatd.clients.sdk.tokens import NotSignedIn, TokenKeeper, Tokens
from chatd.clients.ws import ChatError
from chatd.protocol import devices as d
from chatd.protocol import e2ee as e
from chatd.protocol import frames as f
from chatd.protocol import people as p
from chatd.protocol import qr
from chatd.protocol.rooms import MessageKind

if TYPE_CHECKING:
    from chatd.clients.sdk.crypto import Decrypted, Verification
    from chatd.clients.sdk.e2ee import Encryption

EARLY_KEPT = 1000  # encrypted messages kept from before enable_encryption, to decrypt once it is on
log = logging.getLogger("chatd.sdk")
MEMBER_RACES = 5  # an encrypted send re-shared after this many membership changes under it gives up
MEMBERS_CHANGED = "the members of room"  # the start of the server's refusal of a stale members_seq

Queued = tuple[Event, tuple[int, int] | None]  # an event and the (room, seq) to ack when it is handed over


def invite_code(link_or_code: str) -> str:
    """The code of an invite link (`.../i/<code>`, the web client's landing page) or a bare code."""
    return link_or_code.strip().rstrip("/").rsplit("/", 1)[-1]


class Chat:
    def __init__(self, nursery: trio.Nursery, cache: Cache, url: str, http_url: str | None = None, *,
                 device: str = "chatd-sdk", refresh_fraction: float = 0.8, request_timeout: float = 10.0) -> None:
        self._nursery = nursery
        self.cache = cache
        self.cache_path: Path | None = None  # set by open(): the crypto store goes next to it
        self.http_url = http_url
        self.device = device
        self.tokens = TokenKeeper(self._save_tokens, refresh_fraction)
        self.link = Link(url, self.tokens, cache.cursors, self._on_push, self._on_state, request_timeout)
        self.history_pages = History(cache, self._fetch_history)
        self.media = MediaApi(http_url, self._access_token) if http_url else None
        self._events_in, self._events_out = trio.open_memory_channel[Queued](math.inf)
        self._link_scope: trio.CancelScope | None = None
        self.connected = False
        self.encryption: Encryption | None = None  # enable_encryption()
        self.encrypted_rooms: set[int] = set()
        self._settings_known: set[int] = set()  # rooms whose encryption setting this client has seen
        # to-device frames go to their own task (handling them makes requests, which must not wait in the push
        # loop); it starts once encryption is on (until then the server waits on the first frame's ack)
        self._to_device_in, self._to_device_out = trio.open_memory_channel[e.ToDevice](math.inf)
        self._encryption_on = trio.Event()
        # encrypted messages that came before enable_encryption, to read once it is on
        self._early: collections.deque[f.Message] = collections.deque(maxlen=EARLY_KEPT)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, cache_path: Path | str, *, http_url: str | None = None,
                   max_per_room: int = 5000, max_total: int = 100_000, **options: Any) -> AsyncIterator[Chat]:
        """A client on `cache_path` (created if missing). Cached tokens are loaded; nothing connects
        until login(), signup() or resume()."""
        async with open_cache(Path(cache_path), max_per_room=max_per_room, max_total=max_total) as cache, \
                trio.open_nursery() as nursery:
            chat = cls(nursery, cache, url, http_url, **options)
            chat.cache_path = Path(cache_path)
            nursery.start_soon(chat._to_device_worker)
            chat.tokens.restore(await cache.get_meta("tokens"))
            try:
                yield chat
            finally:
                nursery.cancel_scope.cancel()

    # ------------------------------------------------------------------ session

    @property
    def user_id(self) -> int | None:
        return self.tokens.tokens.user_id if self.tokens.tokens else None

    @property
    def username(self) -> str | None:
        return self.tokens.tokens.username if self.tokens.tokens else None

    async def signup(self, username: str, email: str, password: str, invite: str | None = None) -> None:
        """`invite`: an invite link or code, needed when the server's registration is by invitation."""
        await self._sign_in(f.Signup, username=username, email=email, password=password, device=self.device,
                            invite=invite_code(invite) if invite else None)

    async def login(self, username: str, password: str) -> None:
        await self._sign_in(f.Login, username=username, password=password, device=self.device)

    async def start_qr_login(self) -> QrLogin:
        """Ask the server for a QR login request (needs http_url): show `.link` as a QR code, or `.shown` as text,
        on this device, then call finish_qr_login() (docs/protocol.md 3.9)."""
        return await start_qr_login(self._http_url(), self.device)

    async def finish_qr_login(self, request: QrLogin) -> None:
        """Wait until a signed-in device of the account approves `request`, then sign in with this device's own
        new tokens and connect. ChatError `forbidden` (declined), `not_found` (expired or used)."""
        await self.sign_in_with(await wait_for_approval(self._http_url(), request))

    async def sign_in_with(self, auth: f.AuthOk) -> None:
        """Sign in with tokens this device got another way (clients.sdk.qr.wait_for_approval), and connect."""
        self.disconnect()
        await self.tokens.adopt(auth)
        await self._start()

    async def resume(self) -> bool:
        """Connect with the cached tokens (refreshing them as needed); False if there are none."""
        if self.tokens.tokens is None:
            return False
        await self._start()
        return True

    async def logout(self) -> None:
        """Revoke this device's tokens on the server, forget them, and disconnect."""
        if self.tokens.tokens is not None:
            await self.link.call(f.Logout, idempotent=False, refresh_token=self.tokens.tokens.refresh_token)
        await self.cache.set_meta({"tokens": None})
        self.tokens.tokens = None
        self.disconnect()

    # ------------------------------------------------------------------ devices and account

    async def devices(self) -> list[d.DeviceInfo]:
        """This account's signed-in devices, most recently seen first; `current` marks this one."""
        return (await self.link.call(d.ListDevices, idempotent=True)).devices  # type: ignore[no-any-return]

    async def logout_other_devices(self) -> list[str]:
        """Sign every other device out (their sockets close, their tokens stop working); the ids signed out."""
        return (await self.link.call(d.LogoutDevices, idempotent=True, others=True)).devices  # type: ignore[no-any-return]

    async def logout_device(self, device: str) -> None:
        """Sign one device out by its id (from `devices()`); for this one, use `logout()`."""
        await self.link.call(d.LogoutDevices, idempotent=False, device=device)

    async def change_password(self, old_password: str, new_password: str) -> None:
        """Every other device is signed out; this one stays signed in (ChatError `unauthorized`: wrong password)."""
        await self.link.call(d.ChangePassword, idempotent=False, old_password=old_password, new_password=new_password)

    async def delete_account(self, password: str) -> None:
        """Delete the account for good (docs/protocol.md 3.8), then forget the tokens and disconnect."""
        await self.link.call(d.DeleteAccount, idempotent=False, password=password)
        await self.cache.set_meta({"tokens": None})
        self.tokens.tokens = None
        self.disconnect()

    async def qr_login_request(self, code: str) -> qr.QrLoginRequest:
        """Who asks to sign in to this account with a QR login `code` (or the scanned link): the device's label,
        User-Agent and client address as the server saw them. Check them before you approve."""
        return await self.link.call(qr.QrLoginPreview, idempotent=True, code=code)  # type: ignore[no-any-return]

    async def answer_qr_login(self, code: str, approve: bool) -> None:
        """Approve (the asking device becomes a new device of this account) or decline a QR login request."""
        await self.link.call(qr.QrLoginAnswer, idempotent=False, code=code, approve=approve)

    def disconnect(self) -> None:
        if self._link_scope is not None:
            self._link_scope.cancel()
            self._link_scope = None

    async def _sign_in(self, kind: type[f.Frame], **fields: Any) -> None:
        self.disconnect()
        self.tokens.pending = (kind, fields)
        await self._start()

    async def _start(self) -> None:
        if self._link_scope is None:
            self._link_scope = await self._nursery.start(self._run_link)
        try:
            await self.link.ready()
        except LinkFailed as exc:
            self._link_scope = None
            raise exc.cause from None

    async def _run_link(self, *, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            task_status.started(scope)
            await self.link.run()
            failure = self.link.failure
            if failure is not None and not isinstance(failure.cause, NotSignedIn):
                code = failure.cause.code if isinstance(failure.cause, ClosedForGood) else None
                self._events_in.send_nowait((SessionEnded(str(failure.cause), code), None))

    async def _save_tokens(self, tokens: Tokens) -> None:
        await self.cache.set_meta({"tokens": TokenKeeper.dump(tokens)})

    def _http_url(self) -> str:
        if self.http_url is None:
            raise RuntimeError("this client was opened without http_url")
        return self.http_url

    def _access_token(self) -> str:
        if self.tokens.tokens is None:
            raise NotSignedIn("sign in first")
        return self.tokens.tokens.access_token

    def _on_state(self, connected: bool, reason: str) -> None:
        self.connected = connected
        self._events_in.send_nowait((ConnectionChanged(connected, reason), None))
        if connected and self.encryption is not None:
            self._nursery.start_soon(self._publish_keys)

    # ------------------------------------------------------------------ end-to-end encryption

    async def enable_encryption(self, password: str, store: Path | str | None = None) -> None:
        """Turn end-to-end encryption on for this device (needs the `e2ee` extra): open its crypto store,
        encrypted under a key derived from `password` (WrongPassword: not the one it was made with), next to
        the cache file unless `store` says where, and publish its keys. Call after signing in."""
        from chatd.clients.sdk.e2ee import Encryption  # the e2ee extra (vodozemac) only when asked for

        await self.link.ready()
        welcome = self.link.welcome
        if welcome is None or welcome.device is None or self.user_id is None:
            raise RuntimeError("sign in before enabling encryption")
        path = store if store is not None else self.cache_path.with_suffix(".crypto.sqlite3") if self.cache_path \
            else None  # None: in memory (a client made without open(), in tests)
        encryption = await Encryption.open(self.link, path, self.user_id, welcome.device, password, self._emit)
        self.encryption = encryption  # on even if publishing fails now: it is tried again at every connect
        with contextlib.suppress(*REQUEST_ERRORS):
            await encryption.publish()
        self._encryption_on.set()  # the to-device frames held so far go now
        early, self._early = list(self._early), collections.deque(maxlen=EARLY_KEPT)
        for m in early:
            found = encryption.on_message(m)
            if found is not None:
                self._emit(MessageDecrypted(m, found))
        self._nursery.start_soon(encryption.watch_pending)

    async def _to_device_worker(self) -> None:
        """Hand each to-device frame to the encryption, in order, once it is on. A frame sent again after a
        reconnect is handled once (Encryption skips what it has handled)."""
        async for frame in self._to_device_out:
            await self._encryption_on.wait()
            assert self.encryption is not None
            try:
                await self.encryption.on_to_device(frame)
            except REQUEST_ERRORS as exc:  # not acked: the server sends it again at the next connection
                log.warning("to-device messages left for the next connection: %s", exc)

    async def _publish_keys(self) -> None:
        if self.encryption is not None:
            with contextlib.suppress(*REQUEST_ERRORS):
                await self.encryption.publish()

    def _emit(self, event: object) -> None:
        self._events_in.send_nowait((event, None))  # type: ignore[arg-type]

    async def create_key_backup(self) -> str:
        """Back up every room key, encrypted under a new recovery key; returns the key to show the user once."""
        return await self._crypto().create_backup()

    async def restore_key_backup(self, recovery_key: str) -> int:
        """On a new device: read the key backup with the user's recovery key; returns the keys imported."""
        return await self._crypto().restore_backup(recovery_key)

    async def decrypt(self, message: f.Message) -> Decrypted | None:
        """The plaintext of an encrypted message (from history, say), when this device has its key."""
        return await self._crypto().read(message)

    async def verify_device(self, user: int, device: str) -> Verification:
        """Start a SAS verification; follow it in VerificationChanged events, compare `flow.emoji`, then
        confirm_verification() (or cancel_verification())."""
        return await self._crypto().start_verification(user, device)

    async def accept_verification(self, txn: str) -> None:
        await self._crypto().step(self._crypto().machine.accept_verification(txn))

    async def confirm_verification(self, txn: str) -> None:
        """The emoji match: say so (the device is marked verified once the other side's MAC checks out)."""
        await self._crypto().step(self._crypto().machine.confirm_verification(txn))

    async def cancel_verification(self, txn: str, reason: str = "the emoji do not match") -> None:
        await self._crypto().step(self._crypto().machine.cancel_verification(txn, reason))

    def _crypto(self) -> Encryption:
        if self.encryption is None:
            raise RuntimeError("end-to-end encryption is not enabled: call enable_encryption(password)")
        return self.encryption

    # ------------------------------------------------------------------ incoming

    async def _on_push(self, frame: f.Frame) -> None:
        """Store what the server pushed, then queue it for the application (messages one by one)."""
        if isinstance(frame, f.Msgs):
            await self.cache.store(frame.messages, pushed=True)
            last = {m.room: i for i, m in enumerate(frame.messages)}
            for i, m in enumerate(frame.messages):
                self._note_encryption(m)
                decrypted = self.encryption.on_message(m) if self.encryption is not None else None
                if self.encryption is None and m.kind == "encrypted":
                    self._early.append(m)
                self._events_in.send_nowait((NewMessage(m, frame.backlog, decrypted),
                                             (m.room, m.seq) if last[m.room] == i else None))
            return
        if isinstance(frame, e.ToDevice):
            self._to_device_in.send_nowait(frame)  # one at a time: the server sends the next after our ack
            return
        if isinstance(frame, e.DevicesChanged) and self.encryption is not None:
            self.encryption.machine.devices_changed(frame.user)
        if isinstance(frame, f.Status):
            await self.cache.save_receipt(frame.room, frame.user, frame.delivered_seq, frame.read_seq)
        elif isinstance(frame, f.Counts):
            await self._save_counts(frame)
        self._events_in.send_nowait((frame, None))

    async def _save_counts(self, counts: f.Counts) -> None:
        for summary in await self.cache.rooms():
            if summary.room == counts.room:
                await self.cache.save_rooms([structs.replace(summary, unread=counts.unread,
                                                             mentions=counts.mentions, muted=counts.muted)])

    def _note_encryption(self, m: f.Message) -> None:
        if m.event and m.event.get("encrypted") and m.event.get("type") in ("created", "room_updated"):
            self.encrypted_rooms.add(m.room)

    async def next_event(self) -> Event:
        """The next event; handing over the last message of a room in a `msgs` frame acks that room."""
        event, ack = await self._events_out.receive()
        if ack is not None:
            if isinstance(event, NewMessage) and not event.backlog:
                self.link.ack_soon(*ack)  # live: within 100 ms, or with the next request
            else:  # a backlog batch: the next one waits for this ack
                await self.link.send_quietly(f.Ack(room=ack[0], seq=ack[1]))
        return event

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self.next_event()

    # ------------------------------------------------------------------ messages

    async def send(self, room: int, body: str = "", *, kind: MessageKind = "text", media: f.MediaRef | None = None,
                   client_id: str | None = None, reply_to: int | None = None) -> f.Sent:
        """Send a message and return `sent` once it is stored. Retried with the same client id (so it is
        stored once) after `retry`, a timeout or a lost connection, with back-off, until it is.
        `reply_to`: the seq of the message of `room` this one answers."""
        return await self._send(room, body, kind, media, None, client_id, reply_to)

    async def send_file(self, room: int, source: bytes | Path, caption: str = "",
                        filename: str | None = None) -> tuple[Upload, f.Sent]:
        """Upload a file over HTTP, then send an image/video/audio/file message referring to it."""
        if self.media is None:
            raise RuntimeError("this client was opened without http_url")
        if room not in self._settings_known:
            await self.get_room(room)
        if room in self.encrypted_rooms:
            return await self._send_encrypted_file(room, source, caption, filename)
        upload = await self.media.upload(source, filename)
        sent = await self._send(room, caption, upload.kind, upload.ref(), upload.shown(), None, None)
        return upload, sent

    async def _send_encrypted_file(self, room: int, source: bytes | Path, caption: str,
                                   filename: str | None) -> tuple[Upload, f.Sent]:
        """Encrypt the file here (the server gets ciphertext with no name and no type), upload it, and send its
        key, type and name inside the Megolm message (docs/e2ee.md §3)."""
        from chatd.clients.sdk.crypto.attachment import encrypt_file

        assert self.media is not None
        if isinstance(source, Path):
            filename = filename or source.name
            source = await trio.Path(source).read_bytes()
        name = filename or "file"
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        kind = next((k for k in ("image", "video", "audio") if mime.startswith(f"{k}/")), "file")
        ciphertext, keys = encrypt_file(source)
        upload = await self.media.upload(ciphertext)
        media = {"id": upload.id, **keys, "mime": mime, "name": name, "size": len(source)}
        sent = await self._send_encrypted(room, str(uuid.uuid4()), {"kind": kind, "body": caption, "media": media},
                                          None, f.MediaRef(id=upload.id))
        return upload, sent

    async def download_file(self, message: f.Message, decrypted: Decrypted) -> bytes:
        """The bytes of the file an encrypted `message` carries (downloaded, checked and decrypted here);
        `decrypted`: what `decrypt(message)` gave."""
        from chatd.clients.sdk.crypto.attachment import decrypt_file

        media = decrypted.content.get("media")
        if self.media is None or not isinstance(media, dict):
            raise ValueError("this message carries no file")
        if message.media is None or message.media.id != media.get("id"):
            raise ValueError("the file named inside the message is not the one it carries")
        return decrypt_file(await self.media.download(str(media["id"])), media)

    async def _send(self, room: int, body: str, kind: MessageKind, media: f.MediaRef | None,
                    shown: f.Media | None, client_id: str | None, reply_to: int | None) -> f.Sent:
        client_id = client_id or str(uuid.uuid4())
        if room not in self._settings_known:  # a room I was added to: is it encrypted?
            await self.get_room(room)
        if room in self.encrypted_rooms:
            content = {"kind": kind, "body": body, **({"reply_to": reply_to} if reply_to else {})}
            return await self._send_encrypted(room, client_id, content, reply_to, None)
        sent = await self.link.call(f.Send, idempotent=True, room=room, client_id=client_id, body=body,
                                    kind=kind, media=media, reply_to=reply_to)
        await self.cache.store([f.Message(room=room, seq=sent.seq, ts=sent.ts, kind=kind, sender=self.user_id,
                                          client_id=sent.client_id, body=body, media=shown, reply_to=reply_to)])
        return sent

    async def _send_encrypted(self, room: int, client_id: str, content: dict[str, Any],
                              reply_to: int | None, media: f.MediaRef | None) -> f.Sent:
        """Encrypt for the room's members and send; when the members changed meanwhile (the server says
        `conflict`), share a key with the new members and send again, with the same client id."""
        crypto = self._crypto()
        for attempt in range(MEMBER_RACES):
            encrypted, members_seq = await crypto.encrypt(room, content)
            try:
                sent: f.Sent = await self.link.call(f.Send, idempotent=True, room=room, client_id=client_id,
                                                    kind="encrypted", encrypted=encrypted, reply_to=reply_to,
                                                    members_seq=members_seq, media=media)
            except ChatError as exc:
                if exc.code != "conflict" or not exc.error.message.startswith(MEMBERS_CHANGED):
                    raise
                crypto.stale(room)
                await trio.sleep(0.05 * attempt)  # members changing under us: a moment for the news to settle
                continue
            await self.cache.store([f.Message(room=room, seq=sent.seq, ts=sent.ts, kind="encrypted",
                                              sender=self.user_id, client_id=sent.client_id, body="",
                                              reply_to=reply_to, encrypted=_stored(encrypted))])
            return sent
        raise ChatError(f.Error(code="retry", message=f"the members of room {room} keep changing: send again"))

    async def edit(self, room: int, seq: int, body: str) -> None:
        """Replace the body (a media message's caption) of your own message `seq`. Every member's client,
        this one included, gets a `message_edited` event; the cache applies it when it arrives."""
        await self.link.call(f.Edit, idempotent=True, room=room, seq=seq, body=body)  # the same edit twice: no harm

    async def delete(self, room: int, seq: int) -> None:
        """Delete message `seq` for everyone (yours; in groups the owner and admins may delete any)."""
        await self.link.call(f.Delete, idempotent=False, room=room, seq=seq)

    async def react(self, room: int, seq: int, emoji: str) -> None:
        """Put `emoji` on message `seq` (again is fine); every member gets a `reaction_added` event."""
        await self.link.call(f.React, idempotent=True, room=room, target=seq, emoji=emoji)

    async def unreact(self, room: int, seq: int, emoji: str) -> None:
        """Take your `emoji` off message `seq` (none there is fine)."""
        await self.link.call(f.Unreact, idempotent=True, room=room, target=seq, emoji=emoji)

    async def history(self, room: int, before_seq: int | None = None, limit: int = 50) -> list[f.Message]:
        """Messages just below `before_seq` (the newest when None), ascending; the server is asked only
        for what the cache lacks."""
        return await self.history_pages.page(room, before_seq, limit)

    async def cached_history(self, room: int, before_seq: int | None = None, limit: int = 50) -> list[f.Message]:
        """Only what the cache holds: instant, works offline."""
        return await self.history_pages.cached(room, before_seq, limit)

    async def _fetch_history(self, room: int, before_seq: int | None, limit: int) -> f.HistoryPage:
        return await self.link.call(f.History, idempotent=True, room=room, before_seq=before_seq,  # type: ignore[no-any-return]
                                    limit=limit)

    async def read(self, room: int, seq: int) -> None:
        await self.link.send_quietly(f.Read(room=room, seq=seq))

    async def typing(self, room: int, active: bool = True) -> None:
        await self.link.send_quietly(f.Typing(room=room, active=active))

    async def receipts(self, room: int) -> dict[int, tuple[int, int]]:
        """user -> (delivered_seq, read_seq) in `room`, as last reported."""
        return await self.cache.receipts(room)

    # ------------------------------------------------------------------ rooms and people

    async def rooms(self) -> list[f.RoomSummary]:
        """The room list from the server (it replaces the cached one)."""
        reply: f.Rooms = await self.link.call(f.ListRooms, idempotent=True)
        self.encrypted_rooms |= {r.room for r in reply.rooms if r.encrypted}
        self._settings_known |= {r.room for r in reply.rooms}
        await self.cache.save_rooms(reply.rooms, replace_all=True)
        return reply.rooms

    async def cached_rooms(self) -> list[f.RoomSummary]:
        return await self.cache.rooms()

    async def open_direct(self, user: f.UserRef, encrypted: bool = False) -> f.RoomInfo:
        """The direct room with `user`; `encrypted`: end-to-end encrypted (an existing plain one is turned)."""
        info = self._seen((await self.link.call(f.OpenDirect, idempotent=True, user=user, encrypted=encrypted)).room)
        if encrypted and not info.encrypted:
            with contextlib.suppress(ChatError):  # `conflict`: the other member turned it on just now
                await self.encrypt_room(info.room)
            info = await self.get_room(info.room)
        return info

    async def create_group(self, name: str, members: list[f.UserRef] | None = None,
                           encrypted: bool = False) -> f.RoomInfo:
        return self._seen((await self.link.call(f.CreateGroup, idempotent=False, name=name, members=members,
                                                encrypted=encrypted)).room)

    async def encrypt_room(self, room: int) -> None:
        """Turn end-to-end encryption on for `room` (for good)."""
        await self.link.call(f.UpdateRoom, idempotent=False, room=room, encrypted=True)
        self.encrypted_rooms.add(room)

    async def get_room(self, room: int) -> f.RoomInfo:
        return self._seen((await self.link.call(f.GetRoom, idempotent=True, room=room)).room)

    def _seen(self, info: f.RoomInfo) -> f.RoomInfo:
        self._settings_known.add(info.room)
        if info.encrypted:
            self.encrypted_rooms.add(info.room)
        return info

    async def create_invite(self, room: int, expires_in: int | None = None, max_uses: int | None = None) -> str:
        """A new invite link for `room` (`<http_url>/i/<code>`, which opens in the web client; the bare code
        without http_url)."""
        reply: f.Invite = await self.link.call(f.CreateInvite, idempotent=False, room=room,
                                               expires_in=expires_in, max_uses=max_uses)
        code = reply.invite.code
        return f"{self.http_url.rstrip('/')}/i/{code}" if self.http_url else code

    async def preview_invite(self, link_or_code: str) -> f.InvitePreview:
        """What an invite link leads to (the group's name, description, member count) before joining."""
        reply: f.InvitePreview = await self.link.call(f.PreviewInvite, idempotent=True, code=invite_code(link_or_code))
        return reply

    async def join(self, link_or_code: str) -> None:
        await self.link.call(f.Join, idempotent=False, code=invite_code(link_or_code))

    async def presence(self, users: list[int]) -> list[p.PresenceInfo]:
        return (await self.link.call(p.GetPresence, idempotent=True, users=users)).users  # type: ignore[no-any-return]

    async def profile(self, user: f.UserRef | None = None) -> p.ProfileInfo:
        info: p.ProfileInfo = (await self.link.call(p.GetProfile, idempotent=True, user=user)).profile
        await self.cache.save_profiles([info])
        return info

    async def cached_profiles(self) -> dict[int, p.ProfileInfo]:
        return await self.cache.profiles()


def _stored(encrypted: f.Encrypted) -> f.StoredEncrypted:
    return f.StoredEncrypted(**structs.asdict(encrypted))


__all__ = ["Chat", "invite_code"]
