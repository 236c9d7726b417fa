"""The one way a request gets its reply: a one-shot handle (OTP's `From`), answered exactly once.

The connection makes a `Reply` for each request it reads and hands it to the request's handler. The handler
answers it (`send` a frame, or `refuse`), or puts it into a mailbox item, and the actor that takes the item
answers it instead. A second answer is a bug: it raises AlreadyAnswered (in an actor, that is a crash, and
the crash is loud). An actor that crashes or drops a request answers whatever its batch still holds open with
`fail` (`fail_open` below), so the client gets an error, never silence.

This module is also the one place a Refusal becomes an `error` frame (`error_frame`).
"""

from __future__ import annotations

from collections.abc import Iterable

from chatd.actors.device import Device
from chatd.protocol.errors import Refusal
from chatd.protocol.frames import Error, Frame


class AlreadyAnswered(RuntimeError):
    """A reply handle was answered twice: whoever answered second has a bug."""


def error_frame(refusal: Refusal, req_id: int | None) -> Error:
    return Error(code=refusal.code.value, message=refusal.message, id=req_id, retry_after=refusal.retry_after)


class Reply:
    """Answers request `req_id` of `device` once. A small object: one per request, no task or channel."""

    __slots__ = ("answered", "device", "req_id")

    def __init__(self, device: Device, req_id: int | None) -> None:
        self.device = device
        self.req_id = req_id
        self.answered = False

    def send(self, frame: Frame) -> None:
        """The request's reply frame (its `id` is the request's)."""
        self._answer()
        self.device.enqueue(frame)

    def refuse(self, refusal: Refusal) -> None:
        """An `error` frame echoing the request's id."""
        self._answer()
        self.device.enqueue(error_frame(refusal, self.req_id))

    def fail(self, refusal: Refusal) -> bool:
        """Refuse unless answered already (a crash or a drop: some of a batch may have been answered); True if
        this answered it."""
        if self.answered:
            return False
        self.refuse(refusal)
        return True

    def _answer(self) -> None:
        """Where exactly-once is enforced."""
        if self.answered:
            raise AlreadyAnswered(f"request {self.req_id} of device {self.device.id} was answered already")
        self.answered = True

    def __repr__(self) -> str:
        return f"Reply(device={self.device.id}, req_id={self.req_id}, answered={self.answered})"


def refuse_once(device: Device, refusal: Refusal) -> None:
    """An `error` frame for something that is not a request with a reply handle (an undecodable frame, a
    refused `typing`): a handle made and answered on the spot, so it goes out the same way."""
    Reply(device, refusal.id).refuse(refusal)


def fail_open(replies: Iterable[Reply], refusal: Refusal) -> int:
    """Answer every reply still open with `refusal`; how many that was."""
    return sum(reply.fail(refusal) for reply in replies)
