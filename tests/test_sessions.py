"""Sessions (issue 16): a signed-out device's access token stops working at once, on every process, and its open
sockets close (4010); the device list, logging other devices out, password change, account deletion and the
registration modes, as users and operators see them."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from chatd.clients.ws import ChatClient
from chatd.console.accounts import create_user
from chatd.console.cli import main as chatctl
from chatd.node import Node
from chatd.protocol import devices as d
from chatd.protocol import frames as f
from chatd.runtime.config import Config, ConfigError
from tests.conftest import PASSWORD, Backing, Pair, People, Person, start_pair

SIGNED_OUT = 4010


@pytest.fixture
async def pair(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> Pair:
    return await start_pair(nursery, backing, tmp_path)


async def login(people: People, person: Person, device: str, node: Node | None = None) -> tuple[f.AuthOk, ChatClient]:
    """Sign `person` in once more (a new device), connected to `node`."""
    client = await people.raw(node)
    auth = await client.call(f.Login, username=person.username, password=PASSWORD, device=device)
    await client.hello(auth.access_token)
    return auth, client


async def closed_with(client: ChatClient, code: int) -> None:
    with trio.fail_after(5):
        await client.closed.wait()
    assert client.close_code == code


async def hello_refused(people: People, token: str, node: Node | None = None) -> str:
    """The message of the `unauthorized` a new hello with `token` gets."""
    reply = await (await people.raw(node)).request(f.Hello, version=f.PROTOCOL_VERSION, token=token)
    assert isinstance(reply, f.Error) and reply.code == "unauthorized", reply
    return reply.message


async def http_status(node: Node, token: str) -> int:
    """What the HTTP side answers this bearer token (404: accepted, no such media; 401: refused)."""
    async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as client:
        return (await client.get("/api/media/nothing", headers={"authorization": f"Bearer {token}"})).status_code


async def test_logout_ends_the_access_token_and_closes_its_sockets(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    phone = await people.connect(ann)
    laptop_auth, laptop = await login(people, ann, "laptop")
    assert await http_status(node, ann.access_token) == 404
    await (await people.raw()).call(f.Logout, refresh_token=ann.refresh_token)
    await closed_with(phone, SIGNED_OUT)
    assert "signed out" in await hello_refused(people, ann.access_token)
    assert await http_status(node, ann.access_token) == 401
    assert (await laptop.call(f.ListRooms)).rooms == []  # the other device is not touched
    assert await http_status(node, laptop_auth.access_token) == 404


async def test_refresh_token_reuse_signs_the_device_out_everywhere(pair: Pair) -> None:
    ann = await pair.on_a.signup("ann")
    here, there = await pair.on_a.connect(ann), await pair.on_b.connect(ann)
    c = await pair.on_a.raw()
    fresh = await c.call(f.Refresh, refresh_token=ann.refresh_token)
    await c.call(f.Refresh, refresh_token=fresh.refresh_token)  # the first token is now spent for good
    reuse = await c.request(f.Refresh, refresh_token=ann.refresh_token)  # a thief's copy
    assert isinstance(reuse, f.Error) and reuse.code == "unauthorized"
    await closed_with(here, SIGNED_OUT)
    await closed_with(there, SIGNED_OUT)  # on the other process, over the bus
    for token in (ann.access_token, fresh.access_token):  # every access token of that device
        assert "signed out" in await hello_refused(pair.on_b, token)
        assert await http_status(pair.b, token) == 401


async def test_device_list_and_logging_out_the_other_devices_on_both_processes(pair: Pair) -> None:
    ann = await pair.on_a.signup("ann")
    phone = await pair.on_a.connect(ann)
    laptop_auth, laptop = await login(pair.on_b, ann, "laptop", pair.b)
    tablet_auth, tablet = await login(pair.on_a, ann, "tablet", pair.a)

    listed = (await phone.call(d.ListDevices)).devices
    assert sorted(x.name or "" for x in listed) == ["", "laptop", "tablet"]
    assert [x.name for x in listed if x.current] == [None]  # the phone signed up without a device name
    assert all(x.created_ts > 0 and x.last_seen_ts >= x.created_ts for x in listed)
    laptop_id = next(x.device for x in listed if x.name == "laptop")
    assert [x.name for x in (await laptop.call(d.ListDevices)).devices if x.current] == ["laptop"]

    bad = await phone.request(d.LogoutDevices)
    assert isinstance(bad, f.Error) and bad.code == "bad_request" and "'others: true'" in bad.message
    unknown = await phone.request(d.LogoutDevices, device=str(uuid.uuid4()))
    assert isinstance(unknown, f.Error) and unknown.code == "not_found"

    out = await phone.call(d.LogoutDevices, others=True)
    assert sorted(out.devices) == sorted(x.device for x in listed if not x.current)
    await closed_with(laptop, SIGNED_OUT)  # on the other process
    await closed_with(tablet, SIGNED_OUT)  # on this one
    for token, node, people in ((laptop_auth.access_token, pair.a, pair.on_a),
                                (tablet_auth.access_token, pair.b, pair.on_b)):
        assert "signed out" in await hello_refused(people, token, node)
        assert await http_status(node, token) == 401
    refused = await (await pair.on_a.raw()).request(f.Refresh, refresh_token=laptop_auth.refresh_token)
    assert isinstance(refused, f.Error) and refused.code == "unauthorized"
    assert [x.current for x in (await phone.call(d.ListDevices)).devices] == [True]
    assert laptop_id in out.devices

    self_out = await phone.call(d.LogoutDevices, device=next(x.device for x in listed if x.current))
    assert len(self_out.devices) == 1  # a device may sign itself out: the reply, then the close
    await closed_with(phone, SIGNED_OUT)


async def test_password_change_signs_the_other_devices_out_and_keeps_this_one(pair: Pair) -> None:
    ann = await pair.on_a.signup("ann")
    phone = await pair.on_a.connect(ann)
    laptop_auth, laptop = await login(pair.on_b, ann, "laptop", pair.b)
    new = "a brand new passphrase"

    wrong = await phone.request(d.ChangePassword, old_password="not my password", new_password=new)
    assert isinstance(wrong, f.Error) and wrong.code == "unauthorized" and wrong.message == "wrong password"
    weak = await phone.request(d.ChangePassword, old_password=PASSWORD, new_password="short")
    assert isinstance(weak, f.Error) and weak.code == "bad_request" and "new_password" in weak.message
    await laptop.call(f.ListRooms)  # nothing happened yet

    await phone.call(d.ChangePassword, old_password=PASSWORD, new_password=new)
    await closed_with(laptop, SIGNED_OUT)
    assert "signed out" in await hello_refused(pair.on_a, laptop_auth.access_token, pair.a)
    assert await http_status(pair.a, laptop_auth.access_token) == 401
    assert (await phone.call(f.ListRooms)).rooms == []  # this device stays signed in
    await pair.on_a.connect(ann)  # and its access token still says hello
    c = await pair.on_a.raw()
    old = await c.request(f.Login, username=ann.username, password=PASSWORD)
    assert isinstance(old, f.Error) and old.code == "unauthorized"
    await c.call(f.Login, username=ann.username, password=new)


async def test_deleting_the_account_keeps_its_messages_under_a_deleted_name(node: Node, people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    direct = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    group = (await ann_c.call(f.CreateGroup, name="club", members=[bob.user_id])).room.room
    said = await ann_c.send_text(direct, "remember me")
    await ann_c.send_text(group, "i own this")
    laptop_auth, laptop = await login(people, ann, "laptop")

    wrong = await ann_c.request(d.DeleteAccount, password="not my password")
    assert isinstance(wrong, f.Error) and wrong.code == "unauthorized"
    await ann_c.call(d.DeleteAccount, password=PASSWORD)
    await closed_with(ann_c, 4003)
    await closed_with(laptop, 4003)

    page = await bob_c.call(f.History, room=direct, limit=10)
    kept = next(m for m in page.messages if m.seq == said.seq)
    assert (kept.sender, kept.body) == (ann.user_id, "remember me")  # the message stays, with its sender id
    members = {m.user: m for m in (await bob_c.call(f.GetRoom, room=direct)).room.members}
    assert members[ann.user_id].username == f"deleted-{ann.user_id}"
    club = (await bob_c.call(f.GetRoom, room=group)).room
    assert [(m.user, m.role) for m in club.members] == [(bob.user_id, "owner")]  # left; ownership passed on

    for token in (ann.access_token, laptop_auth.access_token):
        assert "no longer exists" in await hello_refused(people, token)
        assert await http_status(node, token) == 401
    c = await people.raw()
    gone = await c.request(f.Login, username=ann.username, password=PASSWORD)
    assert isinstance(gone, f.Error) and gone.code == "unauthorized"
    again = await c.call(f.Signup, username=ann.username, email=f"{ann.username}@example.com", password=PASSWORD)
    assert again.user_id != ann.user_id  # the name and the email are free again


async def signup_reply(node: Node, nursery: trio.Nursery, **extra: Any) -> f.Frame:
    c = await People(nursery, node).raw()
    name = f"n_{uuid.uuid4().hex[:10]}"
    return await c.request(f.Signup, username=name, email=f"{name}@example.com", password=PASSWORD, **extra)


async def test_registration_closed_only_chatctl_creates_accounts(nursery: trio.Nursery, config: Config,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    node = await nursery.start(Node(replace(config, registration="closed")).run)
    refused = await signup_reply(node, nursery)
    assert isinstance(refused, f.Error) and refused.code == "forbidden" and "registration is closed" in refused.message
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        answer = await http.post("/api/signup", json={"username": "web_user", "email": "w@example.com",
                                                      "password": PASSWORD})
    assert answer.status_code == 403 and "registration is closed" in answer.json()["message"]

    name = f"op_{uuid.uuid4().hex[:8]}"
    assert config.database_url is not None
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["create-user", name, f"{name}@example.com", "--password-stdin", "--database-url", config.database_url]
    assert await trio.to_thread.run_sync(chatctl, argv) == 0
    assert f"created user {name}" in capsys.readouterr().out
    c = await People(nursery, node).raw()
    await c.hello((await c.call(f.Login, username=name, password=PASSWORD)).access_token)
    with pytest.raises(ValueError, match="already taken"):
        await trio.to_thread.run_sync(create_user, config.database_url, name.upper(), "x@example.com", PASSWORD)
    with pytest.raises(ValueError, match="at least 8"):
        await trio.to_thread.run_sync(create_user, config.database_url, "someone", "s@example.com", "short")


async def test_registration_by_invite_needs_a_live_invite_code(nursery: trio.Nursery, config: Config) -> None:
    node = await nursery.start(Node(replace(config, registration="invite")).run)
    owner = f"owner_{uuid.uuid4().hex[:8]}"
    assert config.database_url is not None
    await trio.to_thread.run_sync(create_user, config.database_url, owner, f"{owner}@example.com", PASSWORD)
    c = await People(nursery, node).raw()
    await c.hello((await c.call(f.Login, username=owner, password=PASSWORD)).access_token)
    room = (await c.call(f.CreateGroup, name="club")).room.room
    code = (await c.call(f.CreateInvite, room=room)).invite.code
    revoked = (await c.call(f.CreateInvite, room=room)).invite.code
    await c.call(f.RevokeInvite, room=room, code=revoked)

    without = await signup_reply(node, nursery)
    assert isinstance(without, f.Error) and without.code == "forbidden" and "needs an invite" in without.message
    for bad, words in (("x" * 24, "unknown invite code"), (revoked, "revoked")):
        refused = await signup_reply(node, nursery, invite=bad)
        assert isinstance(refused, f.Error) and refused.code == "forbidden" and words in refused.message, refused
    ok = await signup_reply(node, nursery, invite=code)
    assert isinstance(ok, f.AuthOk)


def test_a_bad_registration_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"CHAT_REGISTRATION: must be one of open, invite, closed, got 'invites'"):
        Config.from_env({"CHAT_REGISTRATION": "invites"})
    assert Config.from_env({"CHAT_REGISTRATION": "invite"}).registration == "invite"
    assert Config.from_env({}).registration == "open"


async def test_the_sdk_lists_devices_signs_the_others_out_and_changes_the_password(node: Node, tmp_path: Path) -> None:
    from chatd.clients.sdk import Chat
    from chatd.clients.sdk.events import SessionEnded
    name = f"sdk_{uuid.uuid4().hex[:8]}"
    async with Chat.open(node.url, tmp_path / "phone.db", http_url=node.http_url, device="phone") as phone, \
            Chat.open(node.url, tmp_path / "laptop.db", http_url=node.http_url, device="laptop") as laptop:
        await phone.signup(name, f"{name}@example.com", PASSWORD)
        await laptop.login(name, PASSWORD)
        listed = await phone.devices()
        assert sorted((x.name, x.current) for x in listed) == [("laptop", False), ("phone", True)]

        assert await phone.logout_other_devices() == [x.device for x in listed if not x.current]
        with trio.fail_after(10):  # the laptop's socket closes, and its tokens no longer sign it in
            while not isinstance(await laptop.next_event(), SessionEnded):
                pass
        await phone.change_password(PASSWORD, "another good passphrase")
        assert [x.name for x in await phone.devices()] == ["phone"]
        await laptop.login(name, "another good passphrase")
        await phone.delete_account("another good passphrase")
    async with Chat.open(node.url, tmp_path / "again.db", http_url=node.http_url) as again:
        with pytest.raises(Exception, match="wrong username or password"):
            await again.login(name, "another good passphrase")


async def test_a_hello_that_raced_the_revocation_is_closed_when_it_attaches(node: Node, people: People) -> None:
    """A hello whose check read the device just before its revocation committed, and whose attach comes after
    the close went by: the user's actor remembers the revoked device and closes the late one too."""
    from chatd.actors.items import CloseDevices
    from chatd.auth.tokens import TokenIssuer
    from chatd.protocol.errors import CloseCode
    ann = await people.signup("ann")
    laptop_auth, laptop = await login(people, ann, "laptop")  # keeps ann's actor running on this node
    phone_device = TokenIssuer("t" * 40).verify(ann.access_token).device_id
    assert node.services is not None
    # the news of the revocation, as it reaches the actor; the database still says the device is live
    news = CloseDevices(CloseCode.SIGNED_OUT, "logged out", frozenset({phone_device}))
    assert node.services.users.offer(ann.user_id, news)
    late = await people.connect(ann)  # the check passes (the race), the attach is refused
    await closed_with(late, SIGNED_OUT)
    assert (await laptop.call(f.ListRooms)).rooms == []
    assert laptop_auth.user_id == ann.user_id


async def test_auth_keeps_the_device_a_connection_said_hello_with(node: Node, people: People) -> None:
    """An in-band `auth` with another device's token would move the socket out of reach of that first
    device's sign-out; it is refused, and a refreshed token of the same device is taken."""
    ann = await people.signup("ann")
    phone = await people.connect(ann)
    laptop_auth, _ = await login(people, ann, "laptop")
    other = await phone.request(f.Auth, token=laptop_auth.access_token)
    assert isinstance(other, f.Error) and other.code == "forbidden" and "another device" in other.message
    fresh = await (await people.raw()).call(f.Refresh, refresh_token=ann.refresh_token)
    assert isinstance(await phone.call(f.Auth, token=fresh.access_token), f.Ok)
    await (await people.raw()).call(f.Logout, refresh_token=fresh.refresh_token)
    await closed_with(phone, SIGNED_OUT)
