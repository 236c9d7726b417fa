"""What a push says: the JSON a service worker receives (docs/protocol.md 9.3), built from a claimed job.

    {"type": "message", "room": 42, "room_kind": "group", "room_name": "Team", "sender": 7,
     "sender_name": "Ann", "count": 3, "seq": 118, "preview": "see you at ten"}

`preview` is null in rooms with private previews and when the latest message was deleted. It is the
start of the latest message, whitespace collapsed, at most PREVIEW_CHARS characters ("…" added when cut).
"""

from __future__ import annotations

import json

from chatd.persistence.push import PushJob
from chatd.protocol.rooms import MessageKind
from chatd.push.sender import PushMessage
from chatd.push.vapid import VapidKey

PREVIEW_CHARS = 100


MEDIA_LABELS: dict[MessageKind, str] = {"image": "Photo", "video": "Video", "audio": "Voice message", "file": "File",
                                        "encrypted": "New encrypted message"}  # its text is for members' devices only


def preview(body: str | None, kind: MessageKind | None = "text") -> str | None:
    """The notification's text: the message's start, or what a media message is and its caption."""
    if body is None:
        return None
    text = " ".join(body.split())
    label = MEDIA_LABELS.get(kind or "text")
    if label is not None:
        text = f"{label}: {text}" if text else label
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 1].rstrip() + "…"


def payload(job: PushJob) -> dict[str, object]:
    return {"type": "message", "room": job.room_id, "room_kind": job.room_kind, "room_name": job.room_name,
            "sender": job.sender_id, "sender_name": job.sender_name, "count": job.count, "seq": job.last_seq,
            "preview": preview(job.body, job.message_kind)}


def push_message(job: PushJob, vapid: VapidKey, ttl: int) -> PushMessage:
    data = json.dumps(payload(job), ensure_ascii=False, separators=(",", ":")).encode()
    return PushMessage(payload=data, ttl=ttl, topic=vapid.topic(job.room_id),
                       urgency="high" if job.room_kind == "direct" else "normal")
