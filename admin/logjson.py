"""Structured logs: one JSON object per line (CHAT_LOG_FORMAT=json).

Every line has `ts` (ISO 8601, UTC), `level`, `logger` and `msg`; `actor` is the supervised child whose task
logged it (supervisor.current_child, e.g. "room:12#3"), from which `room` or `user` is derived; fields passed
with ``extra=`` (room, user, admin, supervisor, ...) are kept, and an exception adds `exc` (the traceback).
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from chatd.supervisor import current_child

STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}
ACTOR_KINDS = ("room", "user")


def actor_fields(name: str | None) -> dict[str, Any]:
    """{"actor": "room:12#3", "room": 12} for an actor's child name; {"actor": name} for other children."""
    if not name:
        return {}
    fields: dict[str, Any] = {"actor": name}
    kind, sep, rest = name.partition(":")
    if sep and kind in ACTOR_KINDS and rest.split("#", 1)[0].isdigit():
        fields[kind] = int(rest.split("#", 1)[0])
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = {k: v for k, v in vars(record).items() if k not in STANDARD and not k.startswith("_")}
        out.update(actor_fields(extra.get("actor") or current_child.get()))
        out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def install(level: str, fmt: str) -> None:
    """Configure the root logger: `fmt` "json" (one object per line) or "text"."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
