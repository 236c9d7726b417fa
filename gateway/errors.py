"""What every request handler module shares: the handler type.

A handler answers its request through the reply handle (actors/reply.py): it sends the reply frame, or puts
the handle into a mailbox item for the actor that will answer. It raises a Refusal to refuse; the connection
answers the handle with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from chatd.actors.reply import Reply

Handler = Callable[[Any, Reply], Awaitable[None]]
