"""The terminal client's everyday flows (issue 17), each driven through Textual's pilot against a real
server and checked on what the screen shows: editing and deleting messages, group names with spaces,
the sign-in form, focus after signing in, a disabled account and a signed-out device, invite links,
and presence."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from msgspec import structs
from textual.pilot import Pilot
from textual.widgets import Input, Label

from chatd.clients.sdk import SessionEnded
from chatd.clients.tui.app import ChatApp
from chatd.clients.tui.commands import Command, CommandError, parse
from chatd.clients.tui.conversation import Conversation
from chatd.clients.tui.login import LoginScreen
from chatd.clients.tui.render import ended_text, is_shown, message_line
from chatd.clients.ws import ChatClient
from chatd.console.grant import grant_admin
from chatd.protocol import devices as d
from chatd.protocol import frames as f
from tests.admin_support import http
from tests.conftest import PASSWORD, Backing
from tests.tui_support import (
    ServerThread,
    Someone,
    click,
    drive,
    lines,
    log_in,
    open_room,
    sign_up,
    text_of,
    type_line,
    until,
)


@pytest.fixture(scope="module")
def server(backing: Backing, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(backing, tmp_path_factory.mktemp("server")) as server:
        yield server


def app_for(server: ServerThread, tmp_path: Path) -> ChatApp:
    return ChatApp(server.url, server.http_url, tmp_path / "client")


def direct_room(server: ServerThread, bob: Someone, ann: Someone) -> int:
    async def go() -> int:
        assert bob.client is not None
        return (await bob.client.call(f.OpenDirect, user=ann.username)).room.room  # type: ignore[no-any-return]
    return server.run(go)


def error_line(app: ChatApp) -> str:
    return str(app.screen.query_one("#error", Label).render())


def test_edit_and_delete_your_messages_with_keys_and_see_others_edits_live(server: ServerThread,
                                                                         tmp_path: Path) -> None:
    ann, bob = sign_up(server, "ann"), sign_up(server, "bob", connect=True)
    room = direct_room(server, bob, ann)

    async def bob_edits(seq: int, body: str) -> None:
        assert bob.client is not None
        await bob.client.call(f.Edit, room=room, seq=seq, body=body)

    async def bob_deletes(seq: int) -> None:
        assert bob.client is not None
        await bob.client.call(f.Delete, room=room, seq=seq)

    async def scenario() -> None:
        app = app_for(server, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await open_room(app, pilot, bob.username)
            await type_line(pilot, "frist draft")
            await type_line(pilot, "keep me")
            await until(pilot, lambda: any("me: keep me" in t for t in lines(app)), "my messages")

            compose = app.query_one("#compose", Input)
            compose.value = "half typed"
            await pilot.press("up", "up", "e")  # the newest, then the one above it: edit it
            assert compose.value == "frist draft" and app.focused is compose
            assert "editing: frist draft" in text_of(app, "#editing")[0]
            compose.value = "first draft"
            await pilot.press("enter")
            await until(pilot, lambda: any("me: first draft (edited)" in t for t in lines(app)),
                        "my edit shown as edited")
            assert compose.value == "half typed"  # what was being typed comes back
            compose.value = ""

            await pilot.press("up", "d")  # the newest: delete it, after a yes
            await until(pilot, lambda: "Delete this message" in "".join(text_of(app, "#question")), "the question")
            assert "keep me" in text_of(app, "#detail")[0]
            assert app.focused is not None and app.focused.id == "no"  # Enter alone does not delete
            await pilot.press("n")  # no: nothing happens
            await pilot.pause(0.3)
            assert any("me: keep me" in t for t in lines(app))
            await pilot.press("d", "y")
            await until(pilot, lambda: any(t.endswith("me: message deleted") for t in lines(app)),
                        "my message shown as deleted")
            assert not any("keep me" in t for t in lines(app))

            sent: f.Sent = await server.call(bob.client.send_text, room, "typo heer")  # type: ignore[union-attr]
            await until(pilot, lambda: any(t.endswith(f"{bob.username}: typo heer") for t in lines(app)), "bob's")
            await server.call(bob_edits, sent.seq, "typo here")
            await until(pilot, lambda: any(t.endswith(f"{bob.username}: typo here (edited)") for t in lines(app)),
                        "bob's edit, live")
            await server.call(bob_deletes, sent.seq)
            await until(pilot, lambda: any(t.endswith(f"{bob.username}: message deleted") for t in lines(app)),
                        "bob's delete, live")
            assert not any("edited a message" in t or "deleted a message" in t for t in lines(app))
            await pilot.press("escape")
            await type_line(pilot, "/edit first draft, again")  # the command form: my newest message
            await until(pilot, lambda: any("me: first draft, again (edited)" in t for t in lines(app)),
                        "/edit")
            await pilot.press("up", "o", "k")  # typing with a message selected: the keys go to the input line
            assert app.query_one("#compose", Input).value == "ok" and app.focused is app.query_one("#compose")
    drive(scenario)


def test_group_names_with_spaces_are_created_listed_and_switched_to(server: ServerThread, tmp_path: Path) -> None:
    ann, bob, carol = sign_up(server, "ann"), sign_up(server, "bob"), sign_up(server, "carol")

    async def scenario() -> None:
        app = app_for(server, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await type_line(pilot, f'/group "Team Rocket launch" {bob.username} {carol.username}')
            await until(pilot, lambda: text_of(app, "#title") == ["Team Rocket launch"], "the new group open")
            assert any(t.strip() == "Team Rocket launch" for t in text_of(app, "#rooms Static"))
            await type_line(pilot, f"/dm {bob.username}")
            await until(pilot, lambda: text_of(app, "#title")[0].startswith(bob.username), "the direct room open")
            await type_line(pilot, "/open team rocket")  # any case, a prefix, no quotes needed at the end
            await until(pilot, lambda: text_of(app, "#title") == ["Team Rocket launch"], "back in the group")
            await type_line(pilot, '/group "Team Rocket')  # a missing quote is explained, the line kept
            await until(pilot, lambda: app.query_one("#compose", Input).value == '/group "Team Rocket', "kept")
    drive(scenario)


def test_the_input_line_commands_parse_names_with_spaces() -> None:
    assert parse('/group "Team Rocket" bob, carol') == Command("group", ("Team Rocket", "bob", "carol"))
    assert parse("/group 'Ann\"s team'") == Command("group", ('Ann"s team',))
    assert parse("/group solo bob") == Command("group", ("solo", "bob"))
    assert parse("/open Team Rocket ") == Command("open", (), "Team Rocket")
    assert parse('/file "my cat.jpg" it\'s my cat') == Command("file", ("my cat.jpg",), "it's my cat")
    assert parse("/edit  new words") == Command("edit", (), "new words")
    assert parse("/DELETE") == Command("delete")
    for bad, says in (('/group "Team', 'no closing "'), ("/dm", "usage: /dm USER"), ("/dm a b", "usage: /dm"),
                      ("/delete now", "usage: /delete"), ("/frobnicate", "unknown command /frobnicate"),
                      ("/open", "usage: /open")):
        with pytest.raises(CommandError, match=says):
            parse(bad)


def test_lines_quote_replies_list_reactions_and_say_deleted_and_why_a_session_ended() -> None:
    names = {1: "ann", 2: "bob"}
    asked = f.Message(room=7, seq=2, ts=0, sender=2, body="lunch?\nat one")
    reply = f.Message(room=7, seq=3, ts=0, sender=1, body="noon", reply_to=2, edited_ts=5,
                      reactions=[f.Reaction(emoji="👍", users=[2, 1]), f.Reaction(emoji="🎉", users=[2])])
    shown = message_line(reply, 1, names, None, asked)
    assert shown.plain == "       ┌ bob: lunch? at one\n--:--  me: noon (edited)\n       👍 2  🎉 1"
    assert [shown.plain[span.start:span.end] for span in shown.spans if span.style == "bold"][-1] == "👍 2"  # mine
    assert message_line(reply, 1, names).plain.startswith("       ┌ an earlier message\n")  # not held here
    gone = structs.replace(asked, deleted=True, body=None)
    assert message_line(gone, 1, names).plain == "--:--  bob: message deleted"
    assert message_line(reply, 1, names, None, gone).plain.startswith("       ┌ bob: message deleted\n")
    event = f.Message(room=7, seq=4, ts=0, kind="system", event={"type": "reaction_added", "target": 3, "by": 2})
    assert not is_shown(event) and is_shown(reply)
    assert "disabled by an administrator" in ended_text(SessionEnded("server closed", 4003))
    assert "This device was signed out" in ended_text(SessionEnded("server closed", 4010))
    assert "wrong password" in ended_text(SessionEnded("unauthorized: wrong password"))


def test_sign_up_with_enter_errors_keep_the_fields_and_the_input_line_has_focus(server: ServerThread,
                                                                              tmp_path: Path) -> None:
    taken = sign_up(server, "taken")

    async def fill(pilot: Pilot[None], app: ChatApp, username: str, email: str, password: str) -> None:
        await click(pilot, "#mode-signup")
        await until(pilot, lambda: app.screen.query_one("#email", Input).display, "the email field")
        for name, value in (("username", username), ("email", email), ("password", password)):
            app.screen.query_one(f"#{name}", Input).value = value
        app.screen.query_one("#password", Input).focus()
        await pilot.press("enter")

    async def scenario() -> None:
        app = app_for(server, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            assert isinstance(app.screen, LoginScreen)
            assert not app.screen.query_one("#email", Input).display  # Log in mode: no email field
            await log_in_refused(app, pilot)

            await fill(pilot, app, taken.username, "someone.else@example.com", PASSWORD)  # a taken name
            await until(pilot, lambda: "taken" in error_line(app), "the signup refusal")
            assert isinstance(app.screen, LoginScreen) and app.screen.mode == "signup"
            assert [app.screen.query_one(f"#{n}", Input).value for n in ("username", "email", "password")] == \
                [taken.username, "someone.else@example.com", PASSWORD]

            new_name = f"{taken.username}x"
            app.screen.query_one("#username", Input).value = new_name  # put right, Enter again
            app.screen.query_one("#email", Input).value = f"{new_name}@example.com"
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, LoginScreen), "signed up")
            assert app.sub_title == f"{new_name} · connected"
            assert app.focused is app.query_one("#compose", Input)
            await pilot.press(*"/dm x")  # keys go to the input line at once
            assert app.query_one("#compose", Input).value == "/dm x"

    async def log_in_refused(app: ChatApp, pilot: Pilot[None]) -> None:
        app.screen.query_one("#username", Input).value = taken.username
        app.screen.query_one("#password", Input).value = "not the password"
        app.screen.query_one("#password", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: "password" in error_line(app) and "logging in" not in error_line(app),
                    "the login refusal")
        assert app.screen.query_one("#username", Input).value == taken.username
        assert app.screen.query_one("#password", Input).value == "not the password"
    drive(scenario)


def test_the_input_line_has_focus_the_moment_the_chat_screen_shows(server: ServerThread, tmp_path: Path) -> None:
    ann = sign_up(server, "ann")

    async def scenario() -> None:
        app = app_for(server, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            app.screen.query_one("#username", Input).value = ann.username
            app.screen.query_one("#password", Input).value = PASSWORD
            await click(pilot, "#submit")
            await until(pilot, lambda: not isinstance(app.screen, LoginScreen), "the chat screen")
            await pilot.press(*"hello")  # no click, no Tab
            assert app.query_one("#compose", Input).value == "hello"
    drive(scenario)


def test_a_disabled_account_is_explained_and_not_reconnected(server: ServerThread, backing: Backing,
                                                            tmp_path: Path) -> None:
    admin, ann = sign_up(server, "admin"), sign_up(server, "ann")
    assert grant_admin(backing.database_url, admin.username)

    async def disable() -> None:
        async with http(server.http_url, admin.auth.access_token) as api:
            assert (await api.post(f"/api/admin/users/{ann.user_id}/disable")).status_code == 200

    async def scenario() -> None:
        app = app_for(server, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await server.call(disable)
            await until(pilot, lambda: isinstance(app.screen, LoginScreen), "back at the sign-in screen")
            assert "disabled by an administrator" in error_line(app)
            assert app.sub_title == "signed out"
            assert app.screen.query_one("#username", Input).value == ann.username
            await pilot.pause(1.0)  # nothing reconnects behind it
            assert app.chat is None and isinstance(app.screen, LoginScreen)
            assert "disabled by an administrator" in error_line(app)
    drive(scenario)


def test_a_device_signed_out_from_elsewhere_is_explained(server: ServerThread, tmp_path: Path) -> None:
    ann = sign_up(server, "ann")

    async def sign_out_the_others() -> None:
        async with ChatClient.connect(server.url) as phone:
            auth = await phone.call(f.Login, username=ann.username, password=PASSWORD)
            await phone.hello(auth.access_token)
            await phone.call(d.LogoutDevices, others=True)

    async def scenario() -> None:
        app = app_for(server, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await server.call(sign_out_the_others)
            await until(pilot, lambda: isinstance(app.screen, LoginScreen), "back at the sign-in screen")
            assert "This device was signed out" in error_line(app)
            await log_in(app, pilot, ann.username)  # and signing in again works
            assert app.sub_title == f"{ann.username} · connected"
    drive(scenario)


def test_an_invite_link_stays_until_dismissed(server: ServerThread, tmp_path: Path) -> None:
    ann, bob = sign_up(server, "ann"), sign_up(server, "bob")

    async def scenario() -> None:
        app = app_for(server, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await type_line(pilot, f'/group "Book club" {bob.username}')
            await until(pilot, lambda: text_of(app, "#title") == ["Book club"], "the group")
            await type_line(pilot, "/invite")
            await until(pilot, lambda: bool(text_of(app, "#invite-link")), "the invite link")
            [link] = text_of(app, "#invite-link")
            assert link.startswith(server.http_url.rstrip("/") + "/i/")
            await type_line(pilot, "hello club")
            await type_line(pilot, f"/dm {bob.username}")
            await until(pilot, lambda: text_of(app, "#title")[0].startswith(bob.username), "another room")
            await pilot.pause(1.0)
            assert text_of(app, "#invite-link") == [link]  # still there, whatever happened since
            await click(pilot, "#invite-dismiss")
            await until(pilot, lambda: not text_of(app, "#invite-link"), "the link dismissed")
    drive(scenario)


def test_presence_in_the_title_agrees_with_the_room_list(server: ServerThread, tmp_path: Path) -> None:
    ann, bob = sign_up(server, "ann"), sign_up(server, "bob", connect=True)
    room = direct_room(server, bob, ann)

    def shown(app: ChatApp) -> tuple[str, str]:
        return text_of(app, f"#room-{room} Static")[0], text_of(app, "#title")[0]

    async def bob_leaves() -> None:
        assert bob.client is not None
        await bob.client.disconnect()

    async def bob_comes_back() -> None:
        assert server.nursery is not None
        bob.client = await ChatClient.open_in(server.nursery, server.url)
        await bob.client.hello(bob.auth.access_token)

    async def scenario() -> None:
        app = app_for(server, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await open_room(app, pilot, bob.username)
            await until(pilot, lambda: shown(app) == (f"● {bob.username}", f"{bob.username}  · online"),
                        "bob online in both")
            await server.call(bob_leaves)
            await until(pilot, lambda: shown(app) == (f"○ {bob.username}", f"{bob.username}  · offline"),
                        "bob offline in both")
            await server.call(bob_comes_back)
            await until(pilot, lambda: shown(app) == (f"● {bob.username}", f"{bob.username}  · online"),
                        "bob online again in both")
    drive(scenario)



def test_reply_and_react_on_the_selected_message(server: ServerThread, tmp_path: Path) -> None:
    ann, bob = sign_up(server, "ann"), sign_up(server, "bob", connect=True)
    room = direct_room(server, bob, ann)

    async def bob_sends(body: str, reply_to: int | None = None) -> int:
        assert bob.client is not None
        return (await bob.client.call(f.Send, room=room, client_id=str(uuid.uuid4()), body=body,  # type: ignore[no-any-return]
                                      reply_to=reply_to)).seq

    async def bob_reacts(seq: int, emoji: str) -> None:
        assert bob.client is not None
        await bob.client.call(f.React, room=room, target=seq, emoji=emoji)

    def block(seq: int) -> str:  # a message's whole block: the quote above, the line, the reactions under
        return (text_of(app, f"#msg-{seq}") or [""])[0]

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await open_room(app, pilot, bob.username)
            lunch = await server.call(bob_sends, "lunch?")
            await until(pilot, lambda: "lunch?" in block(lunch), "bob's question")
            await click(pilot, f"#msg-{lunch}")  # a click selects a message, as Up does
            assert app.query_one("#messages", Conversation).selected == lunch
            await pilot.press("r")
            assert f"replying to {bob.username}: lunch?" in text_of(app, "#editing")[0]
            await type_line(pilot, "noon")
            await until(pilot, lambda: any(t.startswith(f"       ┌ {bob.username}: lunch?\n") and "me: noon" in t
                                           for t in lines(app)), "my reply under its quote")
            [mine] = [seq for seq, m in app.shown.items() if m.body == "noon"]
            assert app.shown[mine].reply_to == lunch

            answer = await server.call(bob_sends, "great", mine)
            await until(pilot, lambda: block(answer).startswith("       ┌ me: noon\n"), "bob's reply quoting mine")

            app.query_one("#compose", Input).value = "/react 👍"  # on the newest message: bob's answer
            await pilot.press("enter")
            await until(pilot, lambda: block(answer).endswith("great\n       👍 1"), "my reaction under it")
            await server.call(bob_reacts, mine, "🎉")
            await server.call(bob_reacts, mine, "👍")
            await until(pilot, lambda: block(mine).endswith("\n       🎉 1  👍 1"), "bob's reactions, live")
            app.query_one("#compose", Input).value = "/unreact 👍"
            await pilot.press("enter")
            await until(pilot, lambda: block(answer).endswith("great"), "my reaction taken off")
            app.query_one("#compose", Input).value = "/react nope"
            await pilot.press("enter")
            await until(pilot, lambda: app.query_one("#compose", Input).value == "/react nope", "the line kept")
    app = app_for(server, tmp_path)
    drive(scenario)
