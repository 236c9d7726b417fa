"""SAS verification of another device (e2ee.md §6), as a state machine per `txn` that never touches the
network: each step takes the content of a `verification.*` message and returns what to send back, as
(type, content) pairs the engine wraps in Olm for the other device.

The 7 emoji come from vodozemac's `EstablishedSas.bytes(info).emoji_indices` (six 6-bit groups and one more
of the first 42 bits of HKDF output, as libolm's `generate_bytes(info, 6)` gives) into Matrix's table of 64;
the decimals are its 3 numbers (1000-9191). The MAC is vodozemac `calculate_mac` (correct base64; libolm's
`calculate_mac_fixed_base64`, not its older `calculate_mac`).

A `Sas` key is single-use and cannot be pickled: a verification lives in memory only, and a restart just
means starting it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import vodozemac

# Matrix's SAS emoji table (the spec's data-definitions/sas-emoji.json): index -> (emoji, name)
EMOJI: tuple[tuple[str, str], ...] = (
    ('🐶', 'Dog'), ('🐱', 'Cat'), ('🦁', 'Lion'), ('🐎', 'Horse'),
    ('🦄', 'Unicorn'), ('🐷', 'Pig'), ('🐘', 'Elephant'), ('🐰', 'Rabbit'),
    ('🐼', 'Panda'), ('🐓', 'Rooster'), ('🐧', 'Penguin'), ('🐢', 'Turtle'),
    ('🐟', 'Fish'), ('🐙', 'Octopus'), ('🦋', 'Butterfly'), ('🌷', 'Flower'),
    ('🌳', 'Tree'), ('🌵', 'Cactus'), ('🍄', 'Mushroom'), ('🌏', 'Globe'),
    ('🌙', 'Moon'), ('☁️', 'Cloud'), ('🔥', 'Fire'), ('🍌', 'Banana'),
    ('🍎', 'Apple'), ('🍓', 'Strawberry'), ('🌽', 'Corn'), ('🍕', 'Pizza'),
    ('🎂', 'Cake'), ('❤️', 'Heart'), ('😀', 'Smiley'), ('🤖', 'Robot'),
    ('🎩', 'Hat'), ('👓', 'Glasses'), ('🔧', 'Spanner'), ('🎅', 'Santa'),
    ('👍', 'Thumbs Up'), ('☂️', 'Umbrella'), ('⌛', 'Hourglass'), ('⏰', 'Clock'),
    ('🎁', 'Gift'), ('💡', 'Light Bulb'), ('📕', 'Book'), ('✏️', 'Pencil'),
    ('📎', 'Paperclip'), ('✂️', 'Scissors'), ('🔒', 'Lock'), ('🔑', 'Key'),
    ('🔨', 'Hammer'), ('☎️', 'Telephone'), ('🏁', 'Flag'), ('🚂', 'Train'),
    ('🚲', 'Bicycle'), ('✈️', 'Aeroplane'), ('🚀', 'Rocket'), ('🏆', 'Trophy'),
    ('⚽', 'Ball'), ('🎸', 'Guitar'), ('🎺', 'Trumpet'), ('🔔', 'Bell'),
    ('⚓', 'Anchor'), ('🎧', 'Headphones'), ('📁', 'Folder'), ('📌', 'Pin'),
)

State = Literal["requested", "ready", "started", "showing", "confirmed", "done", "cancelled"]
Send = list[tuple[str, dict[str, Any]]]


def sas_info(initiator: tuple[int, str], responder: tuple[int, str], txn: str) -> str:
    return f"chatd-sas:v1:{initiator[0]}:{initiator[1]}:{responder[0]}:{responder[1]}:{txn}"


def mac_info(txn: str, sender_device: str) -> str:
    return f"chatd-sas-mac:v1:{txn}:{sender_device}"


@dataclass
class Verification:
    """One SAS verification between this device (`me`) and `them`; `we_started` says who is the initiator.

    `state` moves requested -> ready -> started -> showing -> confirmed -> done, or to cancelled from any
    of them. `emoji` and `decimals` are set from "showing" on; `verified` is True only once the other side's
    MAC checked out against `their_signing_key` after our user confirmed the emoji match.
    """
    txn: str
    me: tuple[int, str]
    them: tuple[int, str]
    my_signing_key: str
    their_signing_key: str
    we_started: bool
    state: State = "requested"
    emoji: list[tuple[str, str]] = field(default_factory=list)
    decimals: tuple[int, int, int] | None = None
    verified: bool = False
    cancel_reason: str | None = None
    _sas: vodozemac.Sas = field(default_factory=vodozemac.Sas, repr=False)
    _established: vodozemac.EstablishedSas | None = field(default=None, repr=False)
    _their_mac: str | None = field(default=None, repr=False)

    # -- what this side's user does ------------------------------------------------------------------------
    def request(self) -> Send:
        """The initiator's first message."""
        return [("verification.request", {"txn": self.txn, "from_device": self.me[1]})]

    def accept(self) -> Send:
        """The responder's user accepts the request."""
        if self.we_started or self.state != "requested":
            return self.cancel("accepted out of turn")
        self.state = "ready"
        return [("verification.ready", {"txn": self.txn})]

    def confirm(self) -> Send:
        """Our user says the emoji match: send our MAC, and check theirs if it came first."""
        if self.state != "showing" or self._established is None:
            return self.cancel("confirmed before the emoji were shown")
        self.state = "confirmed"
        mac = self._established.calculate_mac(self.my_signing_key, mac_info(self.txn, self.me[1]))
        send: Send = [("verification.mac", {"txn": self.txn, "mac": mac})]
        if self._their_mac is not None:
            send += self._check_mac(self._their_mac)
        return send

    def cancel(self, reason: str) -> Send:
        """Stop, marking nothing; also what "they don't match" does."""
        if self.state in ("cancelled", "done"):
            return []
        self.state, self.cancel_reason, self.verified = "cancelled", reason, False
        return [("verification.cancel", {"txn": self.txn, "reason": reason})]

    # -- what the other side sent ---------------------------------------------------------------------------
    def receive(self, kind: str, content: dict[str, Any]) -> Send:
        """Handle one `verification.*` content from the other device; return what to send back."""
        if self.state in ("cancelled", "done") and kind != "verification.done":
            return []
        if kind == "verification.cancel":
            self.state, self.cancel_reason = "cancelled", str(content.get("reason") or "cancelled by them")
            return []
        if kind == "verification.request" and not self.we_started and self.state == "requested":
            return []  # the request that made this flow; the user's accept answers it
        if kind == "verification.ready" and self.we_started and self.state == "requested":
            self.state = "started"
            return [("verification.start", {"txn": self.txn, "key": self._sas.public_key.to_base64()})]
        if kind == "verification.start" and not self.we_started and self.state == "ready":
            if not self._establish(content.get("key")):
                return self.cancel("bad SAS key")
            return [("verification.key", {"txn": self.txn, "key": self._sas.public_key.to_base64()})]
        if kind == "verification.key" and self.we_started and self.state == "started":
            return [] if self._establish(content.get("key")) else self.cancel("bad SAS key")
        if kind == "verification.mac" and self.state in ("showing", "confirmed"):
            mac = content.get("mac")
            if not isinstance(mac, str):
                return self.cancel("bad MAC")
            if self.state == "showing":
                self._their_mac = mac  # checked when our user confirms
                return []
            return self._check_mac(mac)
        if kind == "verification.done":
            return []
        return self.cancel(f"unexpected {kind} in state {self.state}")

    # -- inside -------------------------------------------------------------------------------------------
    def _establish(self, key: object) -> bool:
        try:
            self._established = self._sas.diffie_hellman(vodozemac.Curve25519PublicKey.from_base64(key))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return False
        initiator, responder = (self.me, self.them) if self.we_started else (self.them, self.me)
        sas_bytes = self._established.bytes(sas_info(initiator, responder, self.txn))
        self.emoji = [EMOJI[i] for i in sas_bytes.emoji_indices]
        self.decimals = tuple(sas_bytes.decimals)  # type: ignore[assignment]
        self.state = "showing"
        return True

    def _check_mac(self, mac: str) -> Send:
        assert self._established is not None
        try:
            self._established.verify_mac(self.their_signing_key, mac_info(self.txn, self.them[1]), mac)
        except (ValueError, TypeError):
            return self.cancel("the keys do not match (MAC mismatch)")
        self.state, self.verified = "done", True
        return [("verification.done", {"txn": self.txn})]
