"""The pure parts of QR login: the code's form, reading a code out of what was scanned or pasted, and the
in-process wake-up of a waiting long-poll."""

from __future__ import annotations

import re

import pytest
import trio

from chatd.gateway.wakeups import Wakeups
from chatd.protocol import qr


def test_codes_are_twenty_unambiguous_characters_drawn_afresh() -> None:
    codes = {qr.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(re.fullmatch(qr.CODE_RE, c) and not set(c) & set("ILOU") for c in codes)
    assert qr.new_secret() != qr.new_secret() and len(qr.new_secret()) >= 43


def test_a_code_is_shown_in_groups_and_linked_under_the_web_client() -> None:
    code = "0123456789ABCDEFGHJK"
    assert qr.shown(code) == "01234-56789-ABCDE-FGHJK"
    assert qr.link("https://chat.example.com/", code) == f"https://chat.example.com/qr/{code}"


@pytest.mark.parametrize("text", [
    "0123456789ABCDEFGHJK", "01234-56789-abcde-fghjk", "  01234 56789 ABCDE FGHJK\n",
    "O1234-56789-ABCDE-FGHJK",  # a letter O typed for the digit 0
    "https://chat.example.com/qr/0123456789ABCDEFGHJK", "http://127.0.0.1:8766/qr/0123456789ABCDEFGHJK?x=1#y",
])
def test_a_code_is_read_from_a_link_or_as_people_type_it(text: str) -> None:
    assert qr.code_of(text) == "0123456789ABCDEFGHJK"


@pytest.mark.parametrize("text", ["", "0123456789ABCDEFGHJ", "0123456789ABCDEFGHJKM", "0123456789ABCDEFGHJ!",
                                  "https://chat.example.com/i/0123456789ABCDEFGHJK/extra", "UUUUUUUUUUUUUUUUUUUU"])
def test_anything_else_is_no_code(text: str) -> None:
    assert qr.code_of(text) is None


async def test_a_wake_up_reaches_every_waiter_of_its_key_and_leaves_nothing_behind() -> None:
    wakeups = Wakeups()
    woken: list[str] = []

    async def waiter(key: str) -> None:
        with trio.move_on_after(1):
            await wakeups.wait(key)
            woken.append(key)
    async with trio.open_nursery() as nursery:
        for key in ("a", "a", "b"):
            nursery.start_soon(waiter, key)
        await trio.testing.wait_all_tasks_blocked()
        assert len(wakeups) == 2
        wakeups.wake("a")
        wakeups.wake("nobody")
    assert woken == ["a", "a"] and len(wakeups) == 0  # b timed out, and its key went with it
