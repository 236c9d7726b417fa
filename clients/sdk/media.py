"""Media over the HTTP side (docs/protocol.md section 8): upload and download."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import trio

from chatd.protocol import frames as f
from chatd.protocol.rooms import MessageKind

CHUNK = 64 * 1024


class MediaError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Upload:
    id: str
    mime: str
    size: int
    filename: str | None = None
    width: int | None = None
    height: int | None = None
    thumbnail_id: str | None = None

    @property
    def kind(self) -> MessageKind:
        """The message kind for this file: image, video, audio or file."""
        kinds: dict[str, MessageKind] = {"image": "image", "video": "video", "audio": "audio"}
        return kinds.get(self.mime.split("/")[0], "file")

    def ref(self) -> f.MediaRef:
        """What a `send` says of it (images are measured by the server; durations we cannot know)."""
        return f.MediaRef(id=self.id)

    def shown(self) -> f.Media:
        """How a message shows this upload (what the server sends for it)."""
        return f.Media(id=self.id, mime=self.mime, size=self.size, width=self.width, height=self.height,
                       file_name=self.filename, thumbnail_id=self.thumbnail_id)


class MediaApi:
    def __init__(self, http_url: str, access_token: Callable[[], str]) -> None:
        self.http_url = http_url.rstrip("/")
        self.access_token = access_token

    def url(self, media_id: str) -> str:
        return f"{self.http_url}/api/media/{media_id}"

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(headers={"Authorization": f"Bearer {self.access_token()}"}, timeout=60.0)

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise MediaError(response.status_code, body.get("code", "error"), body.get("message", response.text))

    async def upload(self, source: bytes | Path, filename: str | None = None) -> Upload:
        """Upload bytes or a file (streamed from disk); the server sniffs the type."""
        if isinstance(source, Path):
            filename = filename or source.name
            content: bytes | AsyncIterator[bytes] = _chunks(source)
        else:
            content = source
        params = {"filename": filename} if filename else {}
        async with self._client() as http:
            response = await http.post(f"{self.http_url}/api/media", params=params, content=content)
        self._check(response)
        data = response.json()
        return Upload(**{k: data.get(k) for k in ("id", "mime", "size", "filename", "width", "height",
                                                  "thumbnail_id")})

    async def download(self, media_id: str) -> bytes:
        async with self._client() as http:
            response = await http.get(self.url(media_id))
        self._check(response)
        return response.content


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    async with await trio.open_file(path, "rb") as file:
        while chunk := await file.read(CHUNK):
            yield chunk
