"""SAS verification (docs/e2ee.md §6): both users see the same emoji and end verified; a man in the middle
shows different emoji and nothing gets marked."""

from __future__ import annotations

from chatd.clients.sdk.crypto.sas import EMOJI, Verification
from tests.unit.crypto_world import Device, Server

ANN, BOB = 1, 2


def test_the_emoji_table_is_matrix_s_64() -> None:
    assert len(EMOJI) == 64 and len(set(EMOJI)) == 64
    assert EMOJI[0] == ("🐶", "Dog") and EMOJI[63] == ("📌", "Pin") and EMOJI[41] == ("💡", "Light Bulb")


def test_two_users_see_the_same_emoji_and_both_end_verified() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    ann.connect(BOB)
    bob.connect(ANN)
    txn, out = ann.machine.start_verification(BOB, bob.device)
    server.deliver(ann, out)
    assert [p["type"] for p in bob.sync()] == ["verification.request"]
    theirs = bob.machine.verification(txn)
    assert theirs is not None and theirs.state == "requested" and theirs.them == (ANN, ann.device)
    server.deliver(bob, bob.machine.accept_verification(txn))
    ann.sync()
    bob.sync()
    ann.sync()
    mine = ann.machine.verification(txn)
    assert mine is not None and state(mine) == state(theirs) == "showing"
    assert len(mine.emoji) == 7 and mine.emoji == theirs.emoji and mine.decimals == theirs.decimals
    assert all(1000 <= d <= 9191 for d in mine.decimals or ())
    server.deliver(ann, ann.machine.confirm_verification(txn))
    bob.sync()  # ann's MAC waits for bob's user
    assert not bob.machine.device(ANN, ann.device).verified  # type: ignore[union-attr]
    server.deliver(bob, bob.machine.confirm_verification(txn))
    ann.sync()
    bob.sync()
    assert state(mine) == state(theirs) == "done" and mine.verified and theirs.verified
    assert ann.machine.device(BOB, bob.device).verified  # type: ignore[union-attr]
    assert bob.machine.device(ANN, ann.device).verified  # type: ignore[union-attr]


def test_they_dont_match_cancels_on_both_sides_and_marks_nothing() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    ann.connect(BOB)
    txn, out = ann.machine.start_verification(BOB, bob.device)
    server.deliver(ann, out)
    bob.sync()
    server.deliver(bob, bob.machine.accept_verification(txn))
    ann.sync()
    bob.sync()
    ann.sync()
    server.deliver(bob, bob.machine.cancel_verification(txn))
    ann.sync()
    flow = ann.machine.verification(txn)
    assert flow is not None and flow.state == "cancelled" and flow.cancel_reason == "the emoji do not match"
    assert ann.machine.confirm_verification(txn) == []  # too late: nothing is sent, nothing marked
    assert not ann.machine.device(BOB, bob.device).verified  # type: ignore[union-attr]


def state(flow: Verification) -> str:
    """A flow's state as a plain string (mypy would keep it narrowed to an earlier assert's literal)."""
    return flow.state


def flows(a_key: str = "A-signing", b_key: str = "B-signing") -> tuple[Verification, Verification]:
    a = Verification("t1", (ANN, "da"), (BOB, "db"), a_key, b_key, we_started=True)
    b = Verification("t1", (BOB, "db"), (ANN, "da"), b_key, a_key, we_started=False)
    return a, b


def relay(flow: Verification, sent: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return [reply for kind, content in sent for reply in flow.receive(kind, content)]


def test_a_man_in_the_middle_shows_different_emoji_and_its_own_key_does_not_verify() -> None:
    a, b = flows()
    # the attacker plays B towards A and A towards B, each with its own SAS key and signing key "M"
    m_a = Verification("t1", (BOB, "db"), (ANN, "da"), "M", "A-signing", we_started=False)
    m_b = Verification("t1", (ANN, "da"), (BOB, "db"), "M", "B-signing", we_started=True)
    relay(m_a, a.request())
    relay(a, relay(m_a, relay(a, m_a.accept())))  # ready -> start -> key
    relay(b, m_b.request())
    relay(m_b, relay(b, relay(m_b, b.accept())))
    assert a.state == b.state == "showing"
    assert a.emoji != b.emoji  # what the users compare: they differ, so they cancel
    # and a MAC the attacker makes for its own signing key fails against the key A has for B's device
    a.confirm()
    assert relay(a, m_a.confirm()) == [("verification.cancel", {
        "txn": "t1", "reason": "the keys do not match (MAC mismatch)"})]
    assert not a.verified and state(a) == "cancelled"


def test_a_mac_of_another_signing_key_is_refused() -> None:
    a, b = flows(b_key="B-signing")
    relay(b, a.request())
    relay(a, relay(b, relay(a, b.accept())))  # ready -> start -> key
    assert a.state == b.state == "showing" and a.emoji == b.emoji
    b.my_signing_key = "not B's published key"
    a.confirm()
    assert relay(a, b.confirm())[0][0] == "verification.cancel" and not a.verified


def test_out_of_turn_or_junk_messages_cancel() -> None:
    a, b = flows()
    assert b.receive("verification.mac", {"txn": "t1", "mac": "x"})[0][0] == "verification.cancel"
    a2, b2 = flows()
    relay(b2, a2.request())
    b2.accept()
    assert b2.receive("verification.start", {"txn": "t1", "key": "short"})[0][1]["reason"] == "bad SAS key"
    assert b2.confirm() == []  # already cancelled: nothing more goes out
