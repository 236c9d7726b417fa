"""A small blocking client of the admin API (stdlib urllib: chatctl needs nothing the server does not)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

Json = dict[str, Any]


class AdminError(Exception):
    """The server refused (status, code, message) or could not be reached (status 0)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if status == 0 else f"{status} {code}: {message}")
        self.status = status
        self.code = code


class AdminClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Json | None = None, **query: Any) -> Json:
        params = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        url = urllib.parse.urljoin(self.url, path.lstrip("/")) + (f"?{params}" if params else "")
        headers = {"accept": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data, headers["content-type"] = json.dumps(body).encode(), "application/json"
        elif method == "POST":
            data = b""
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read())
            except ValueError:
                err = {}
            raise AdminError(exc.code, err.get("code", "http_error"), err.get("message", exc.reason)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise AdminError(0, "unreachable", f"{url}: {getattr(exc, 'reason', exc)}") from None

    def login(self, username: str, password: str) -> str:
        self.token = self.call("POST", "/api/login", {"username": username, "password": password})["access_token"]
        return self.token

    # ------------------------------------------------------------------ the admin API (docs/admin.md)

    def status(self, limit: int | None = None, events: int | None = None) -> Json:
        return self.call("GET", "/api/admin/status", limit=limit, events=events)

    def events(self, limit: int | None = None) -> Json:
        return self.call("GET", "/api/admin/events", limit=limit)

    def restart(self, kind: str, key: int) -> Json:
        return self.call("POST", f"/api/admin/actors/{kind}/{key}/restart")

    def stop_room(self, room: int) -> Json:
        return self.call("POST", f"/api/admin/rooms/{room}/stop")

    def user_action(self, action: str, user: int | str) -> Json:
        """disconnect | disable | enable, by user id or username."""
        return self.call("POST", f"/api/admin/users/{urllib.parse.quote(str(user), safe='')}/{action}")

    def drain(self, timeout: float | None = None) -> Json:
        return self.call("POST", "/api/admin/drain", timeout=timeout)
