"""The OpenAPI 3.1 description of the HTTP side: every route under /api/, plus /healthz and /metrics.

One source: this module builds the document. Code rather than a YAML file because the runtime has no YAML
parser (and should not grow one for this), and because the limits the document states come from the
constants the handlers enforce, so the two cannot disagree. It is served as `GET /api/openapi.json`, built
once when the app is made (httpapi/app.py); docs/openapi.json is the same document written out with
`python -m chatd.httpapi.openapi > docs/openapi.json`. tests/test_openapi.py fails when a route has no
description or a description no route, when docs/openapi.json was not rewritten, and when the running server
answers something the document does not allow (a property-based run with schemathesis).

Every refusal is one shared `Error` schema and one response component per status (`REFUSALS`): a change of
the error body is an edit in one place. The web client's pages and files (httpapi/webapp.py) are not an API
and are not described.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from chatd.httpapi import session_cookie
from chatd.httpapi.json_body import MAX_BODY
from chatd.httpapi.media import MAX_LINKS, MEDIA_ID
from chatd.httpapi.openapi_blocks import (
    BOOL,
    INT,
    NUMBER,
    Json,
    between,
    field,
    header,
    json_body,
    link,
    nullable,
    obj,
    ok,
    operation,
    path_param,
    query,
    ref,
    schema,
    string,
)
from chatd.httpapi.push import MAX_BODY as MAX_PUSH_BODY
from chatd.protocol.frames import PROTOCOL_VERSION, USERNAME_RE
from chatd.protocol.qr import CODE_RE
from chatd.push.subscription import B64URL, MAX_ENDPOINT

PATH = "/api/openapi.json"
NO_NUL = "^[^\\x00]*$"


def text(min_len: int | None = None, max_len: int | None = None, **extra: Any) -> Json:
    """A string field of a request the frame schema checks: no NUL characters (protocol/schema.py)."""
    return string(min_len, max_len, pattern=NO_NUL, **extra)


RETRY_AFTER = ref("headers", "Retry-After")

# status -> (component name, description): every refusal the HTTP side gives, as the shared Error body
REFUSALS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "`bad_request`: a malformed body, a field out of its bounds, a bad query parameter."),
    401: ("Unauthorized", "`unauthorized`: no, a bad or an expired credential (bearer token, refresh token, "
                          "signed link, password), or a signed-out device or disabled account behind it."),
    403: ("Forbidden", "`forbidden`: the credential is good but does not allow this (a disabled account at login, "
                       "no admin role, registration closed, a declined QR login, no `X-Chatd: 1` on /api/auth/)."),
    404: ("NotFound", "`not_found`: no such thing, or one this user may not see (the same answer)."),
    408: ("RequestTimeout", "`bad_request`: the upload sent nothing for 60 seconds."),
    409: ("Conflict", "`conflict`: the request clashes with the current state (a taken name, a busy actor)."),
    413: ("TooLarge", "`too_large`: the body is over the limit (JSON bodies: "
                      f"{MAX_BODY} bytes; push subscriptions: {MAX_PUSH_BODY} bytes; uploads: CHAT_MAX_UPLOAD_BYTES "
                      "or the daily quota)."),
    415: ("UnsupportedMediaType", "`bad_request`: an upload sent as a multipart form; send the file's bytes."),
    416: ("RangeNotSatisfiable", "`range_not_satisfiable`: the Range starts at or past the end of the file."),
    429: ("RateLimited", "`rate_limited` (accounts, QR login), `too_many_uploads` or `quota_exceeded` (uploads): "
                         "wait `Retry-After` seconds."),
    500: ("Internal", "`internal`: a media item whose bytes are missing on the server."),
    503: ("Retry", "`retry`: the database or Redis is unavailable, or the server is busy; send it again after "
                   "`Retry-After` seconds."),
}
WAIT_STATUSES = (429, 503)


def refused(*statuses: int) -> Json:
    """The responses entries of these refusals."""
    return {str(status): ref("responses", REFUSALS[status][0]) for status in statuses}


# --------------------------------------------------------------------------- components

DEVICE = nullable(text(max_len=64, description="a label for the new device"))
REFRESH_TOKEN = text(1, 256)

SCHEMAS: Json = {
    "Error": obj({"code": string(description="machine-readable: write code against the status and this"),
                  "message": string(description="for people")},
                 description="Every refusal of the HTTP side."),
    "Signup": obj({"username": string(pattern=f"^{USERNAME_RE}$", description="unique, ignoring case"),
                   "email": text(3, 254, format="email", description="`local@domain.tld`; unique, ignoring case"),
                   "password": text(8, 256, description="not only spaces, not the username")},
                  {"device": DEVICE,
                   "invite": nullable(text(1, 64, description="an invite code, when CHAT_REGISTRATION=invite"))}),
    "Login": obj({"username": text(1, 254, description="a username, or an email if it holds `@`"),
                  "password": text(1, 256)}, {"device": DEVICE}),
    "RefreshToken": obj({"refresh_token": REFRESH_TOKEN}),
    "CookieRefreshToken": obj({}, {"refresh_token": {
        **REFRESH_TOKEN, "description": "only to move a token kept elsewhere into the cookie: the cookie is used "
                                        "when this is absent"}}),
    "AuthOk": obj({"user_id": {**INT, "minimum": 1}, "username": string(max_len=32),
                   "access_token": string(max_len=4096, description="a JWT: send it as `Authorization: Bearer`"),
                   "refresh_token": string(max_len=256, description="spent by its next use: keep the new one"),
                   "expires_in": {**INT, "minimum": 0, "description": "seconds the access token lives"}}),
    "WebAuthOk": obj({"user_id": {**INT, "minimum": 1}, "username": string(max_len=32),
                      "access_token": string(max_len=4096), "expires_in": {**INT, "minimum": 0}},
                     description=f"AuthOk without the refresh token, which is in the `{session_cookie.COOKIE}` "
                                 "cookie."),
    "Empty": {"type": "object", "maxProperties": 0},
    "QrStart": obj({}, {"device": DEVICE}),
    "QrStarted": obj({"code": string(pattern=f"^{CODE_RE}$", description="public: show it (QR and text)"),
                      "secret": string(description="private: only this device polls with it"),
                      "expires_in": INT}),
    "QrWait": obj({"code": string(pattern=f"^{CODE_RE}$", description="as /api/qr/start gave it (the forms people "
                                                                      "type, with dashes or in lower case, are "
                                                                      "taken too)"),
                   "secret": text(1, 128)}),
    "QrPending": obj({"status": {"const": "pending"}, "expires_in": INT}),
    "Media": obj({"id": string(pattern=MEDIA_ID.pattern), "mime": string(), "size": {**INT, "minimum": 0},
                  "width": nullable(INT), "height": nullable(INT), "filename": nullable(string()),
                  "thumbnail_id": nullable(string()), "sha256": string(pattern="^[0-9a-f]{64}$")}),
    "MediaLinks": obj({"expires": {**INT, "description": "the links' expiry, unix seconds (server clock)"},
                       "expires_in": {**INT, "description": "seconds from now until `expires`"},
                       "links": {"type": "object", "additionalProperties": string(),
                                 "description": "media id -> its signed path"}}),
    "VapidPublicKey": obj({"public_key": string(description="base64url of a 65-byte uncompressed P-256 point")}),
    "PushSubscription": obj({"endpoint": string(max_len=MAX_ENDPOINT, format="uri", pattern="^https://",
                                                description="a URL of a push service the server allows"),
                             "keys": obj({"p256dh": string(pattern=B64URL.pattern, description="65 bytes: a P-256 "
                                                                                             "point"),
                                          "auth": string(pattern=B64URL.pattern, description="16 bytes")})},
                            {"expirationTime": {"description": "ignored"}},
                            description="The browser's PushSubscription, as `JSON.stringify` gives it."),
    "PushEndpoint": obj({"endpoint": string(min_len=1)}),
    "PushSubscribed": obj({"endpoint": string(), "created": BOOL}),
    "ClientConfig": obj({"ws_url": string(description="where the browser opens the websocket")}),
    "Health": obj({"status": {"enum": ["ok", "degraded"]}, "postgres": {"enum": ["ok", "down"]},
                   "redis": {"enum": ["ok", "down"]}}),
    "SupervisorEvent": obj({"at": NUMBER, "supervisor": string(), "child": string(),
                            "kind": string(description="started, exited, restarted, stopped, start_failed, "
                                                       "escalated"),
                            "reason": nullable(string())}),
    "TreeNode": obj({"name": string(), "kind": {"enum": ["supervisor", "room", "user", "worker"]},
                     "state": string(), "restarts": INT},
                    {"id": nullable(INT), "started_at": nullable(NUMBER), "last_exit": nullable(string()),
                     "traceback": {"type": "array", "items": string()}, "restart": string(),
                     "mailbox": nullable(obj({"depth": INT, "capacity": INT})), "handled": nullable(INT),
                     "lag": nullable(INT), "strategy": string(), "intensity": INT, "period": NUMBER,
                     "omitted": INT, "children": {"type": "array", "items": schema("TreeNode")}},
                    description="One supervised child (docs/admin.md section 2); supervisors have `children`."),
    "AdminStatus": obj({
        "node": obj({"name": string(), "state": string(), "accepting": BOOL, "started_at": NUMBER,
                     "uptime_seconds": NUMBER, "now": NUMBER}),
        "tree": schema("TreeNode"),
        "connections": obj({"total": INT, "authenticated": INT,
                            "by_user": {"type": "array", "items": obj({"user": INT, "devices": INT})}}),
        "rooms": obj({"active": INT}), "users": obj({"active": INT}),
        "database": obj({"status": {"enum": ["ok", "down"]}, "latency_ms": nullable(NUMBER),
                         "pool": {"type": "object"}}),
        "redis": obj({"status": {"enum": ["ok", "down"]}, "latency_ms": nullable(NUMBER),
                      "pool": {"type": "object"}}),
        "events": {"type": "array", "items": schema("SupervisorEvent")}}),
    "AdminEvents": obj({"events": {"type": "array", "items": schema("SupervisorEvent")}}),
    "ActorRestarting": obj({"kind": {"enum": ["room", "user"]}, "id": INT, "actor": string(),
                            "restarting": {"const": True}}),
    "RoomStopped": obj({"room": INT, "actor": string(), "stopped": {"const": True}}),
    "UserDisconnected": obj({"user": INT, "username": string(), "closed_connections": INT}),
    "UserDisabled": obj({"user": INT, "username": string(), "disabled": {"const": True},
                         "revoked_refresh_tokens": INT, "closed_connections": INT}),
    "UserEnabled": obj({"user": INT, "username": string(), "disabled": {"const": False}}),
    "Draining": obj({"node": string(), "state": string(), "timeout": NUMBER}),
}


def refusal_response(status: int, description: str) -> Json:
    return ok(description, schema("Error"), {"Retry-After": RETRY_AFTER} if status in WAIT_STATUSES else None)


COMPONENTS: Json = {
    "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "The `access_token` of signup, login, refresh or an approved QR login."},
        "refreshCookie": {"type": "apiKey", "in": "cookie", "name": session_cookie.COOKIE,
                          "description": "The web client's refresh token: HttpOnly, SameSite=Strict, Path=/api/auth/, "
                                         "set by the /api/auth/ answers."},
    },
    "schemas": SCHEMAS,
    "responses": {name: refusal_response(status, description) for status, (name, description) in REFUSALS.items()},
    "headers": {
        "Retry-After": {"description": "seconds to wait before asking again", "schema": {"type": "string"}},
        "Set-Cookie": {"description": f"`{session_cookie.COOKIE}=<refresh token>; HttpOnly; SameSite=Strict; "
                                      f"Path={session_cookie.PATH}` (`Max-Age=0` when it is cleared)",
                       "schema": {"type": "string"}},
    },
    "parameters": {
        "X-Chatd": header(session_cookie.HEADER, "The web client's own scripts send it: the CSRF defence of "
                                                 "/api/auth/ (403 without it).", {"const": "1"}, required=True),
    },
}
X_CHATD = ref("parameters", "X-Chatd")
SET_COOKIE = {"Set-Cookie": ref("headers", "Set-Cookie")}
CACHE_CONTROL = {"Cache-Control": {"schema": {"type": "string"}}}

# --------------------------------------------------------------------------- paths


def account_paths() -> Json:
    """POST /api/{signup,login,refresh,logout} and their /api/auth/ twins (httpapi/app.py, session_cookie.py)."""
    actions: dict[str, tuple[str, str, tuple[int, ...]]] = {
        "signup": ("Create an account and sign this device in", "Signup", (400, 403, 409, 413, 429, 503)),
        "login": ("Sign a new device in", "Login", (400, 401, 403, 413, 429, 503)),
        "refresh": ("Exchange a refresh token for new tokens", "RefreshToken", (400, 401, 413, 503)),
        "logout": ("Sign out the device of a refresh token", "RefreshToken", (400, 404, 413, 503)),
    }
    account = {"username": "ann", "password": "correct horse battery", "device": "laptop"}
    examples: dict[str, Json] = {"signup": {**account, "email": "ann@example.com"}, "login": account,
                                 "refresh": {"refresh_token": "Zk3q9rT0hV2mXbN8cY1pLw"},
                                 "logout": {"refresh_token": "Zk3q9rT0hV2mXbN8cY1pLw"}}
    paths: Json = {}
    for action, (summary, body, statuses) in actions.items():
        spends = action in ("refresh", "logout")
        answer = ok("Signed out." if action == "logout" else "Signed in.",
                    schema("Empty" if action == "logout" else "AuthOk"), links=None if action == "logout" else {
                        then: link(then, f"{then} with the new refresh token",
                                   body={"refresh_token": field("refresh_token")}) for then in ("refresh", "logout")})
        paths[f"/api/{action}"] = {"post": operation(
            summary, "accounts", {"200": answer, **refused(*statuses)}, operationId=action,
            description=f"The websocket frame `{action}` over HTTP (docs/protocol.md 3.1).",
            body=json_body(schema(body), examples[action]))}
        web_statuses = sorted({*statuses, 403} | ({401} if spends else set()))  # no X-Chatd; no cookie
        web_answer = ok(answer["description"], schema("Empty" if action == "logout" else "WebAuthOk"),
                        SET_COOKIE)
        paths[f"/api/auth/{action}"] = {"post": operation(
            f"{summary} (web client: refresh token in a cookie)", "accounts",
            {"200": web_answer, **refused(*web_statuses)}, operationId=f"web_{action}",
            description=f"As `/api/{action}`, with the refresh token in the HttpOnly `{session_cookie.COOKIE}` "
                        "cookie, never in JSON" + (", which is cleared when the token is refused" if spends else "")
                        + (" and (with `Clear-Site-Data: \"cache\"`) at logout" if action == "logout" else "") + ".",
            parameters=[X_CHATD],
            body=json_body(schema("CookieRefreshToken" if spends else body), {} if spends else examples[action]),
            security=[{"refreshCookie": []}, {}] if spends else None)}
    return paths


def qr_paths() -> Json:
    """QR device login for the device that is not signed in yet (httpapi/qr_login.py, docs/protocol.md 3.9)."""
    waits = (400, 401, 403, 404, 413, 429, 503)
    wait = json_body(schema("QrWait"), {"code": "K3M9Q7T2VXA8D4R0P6WZ", "secret": "a" * 43})
    pending = ok("Not answered yet: wait again.", schema("QrPending"), CACHE_CONTROL)
    return {
        "/api/qr/start": {"post": operation(
            "Start a QR login request", "qr-login",
            {"200": ok("Show `code`, keep `secret`.", schema("QrStarted"), CACHE_CONTROL, links={
                then: link(then, "wait for the answer to this request",
                           body={"code": field("code"), "secret": field("secret")})
                for then in ("qr_wait", "web_qr_wait")}),
             **refused(400, 413, 429, 503)},
            operationId="qr_start", body=json_body(schema("QrStart"), {"device": "phone"}))},
        "/api/qr/wait": {"post": operation(
            "Wait (long poll) for the request to be answered", "qr-login",
            {"200": ok("Approved: a new device of the approving account.", schema("AuthOk"), CACHE_CONTROL),
             "202": pending, **refused(*waits)},
            operationId="qr_wait", description="Answers within CHAT_QR_WAIT_SECONDS.", body=wait)},
        "/api/auth/qr/wait": {"post": operation(
            "Wait for a QR login (web client: refresh token in a cookie)", "qr-login",
            {"200": ok("Approved.", schema("WebAuthOk"), {**CACHE_CONTROL, **SET_COOKIE}), "202": pending,
             **refused(*waits)},
            operationId="web_qr_wait", parameters=[X_CHATD], body=wait)},
    }


def media_paths() -> Json:
    """Upload, signed links and download (httpapi/media.py, docs/protocol.md section 8)."""
    media_id = path_param("media_id", "A media id (an unknown or malformed one is 404).", string())
    signed = [query("u", "signed link: the user id", string()),
              query("exp", "signed link: expiry, unix seconds", string()),
              query("sig", "signed link: base64url HMAC-SHA256", string())]
    conditions = [header("Range", "one byte range, `bytes=first-last`, `bytes=first-`, `bytes=-suffix`", string()),
                  header("If-Range", "the ETag: the Range applies only while it matches", string()),
                  header("If-None-Match", "the ETag (or `*`): 304 when it matches", string())]
    file_headers = {name: {"schema": {"type": "string"}} for name in
                    ("ETag", "Accept-Ranges", "Cache-Control", "Content-Disposition", "Content-Length")}
    binary = {"type": "string", "format": "binary"}
    one_id = MEDIA_ID.pattern.strip("^$")
    download_statuses = (400, 401, 404, 416, 500, 503)

    def download(head: bool) -> Json:
        body = None if head else binary
        return operation(
            "The headers of a media item" if head else "Download a media item", "media",
            {"200": ok("The whole file.", body, file_headers, "*/*"),
             "206": ok("The requested range.", body, {**file_headers, "Content-Range": {"schema": {"type": "string"}}},
                       "*/*"),
             "304": ok("Not modified (If-None-Match matched)."), **refused(*download_statuses)},
            operationId="media_head" if head else "media_download",
            description="With the bearer header, or a signed link from `GET /api/media/links` (`u`, `exp`, `sig`: "
                        "no header needed). A token in the URL (`?token=`, `?access_token=`) is refused (400).",
            parameters=[media_id, *signed, *conditions], security=[{"bearer": []}, {}])

    return {
        "/api/media": {"post": operation(
            "Upload a file (the request body is its bytes)", "media",
            {"201": ok("Stored.", schema("Media"), {"Location": {"required": True, "schema": {"type": "string"}}},
                       links={"download": link("media_download", "its bytes", parameters={"media_id": field("id")}),
                              "head": link("media_head", "its headers", parameters={"media_id": field("id")}),
                              "sign": link("media_links", "a signed link to it", parameters={"ids": field("id")})}),
             **refused(400, 401, 408, 413, 415, 429, 503)},
            operationId="media_upload", bearer=True,
            description="Not a multipart form. The type is sniffed from the bytes; images are stripped of their "
                        "metadata and get a thumbnail. Limits: CHAT_MAX_UPLOAD_BYTES, CHAT_UPLOADS_AT_ONCE, "
                        "CHAT_UPLOAD_BYTES_PER_DAY.",
            parameters=[query("filename", "the file's name (URL-encoded)", string()),
                        header("X-Filename", "the file's name (percent-encoded UTF-8), if not in the query",
                               string())],
            body={"application/octet-stream": {"schema": {**binary, "minLength": 1}}})},
        "/api/media/links": {"get": operation(
            "Signed links for media ids", "media",
            {"200": ok("The links (signing says nothing of whether the ids exist).", schema("MediaLinks"),
                       CACHE_CONTROL),
             **refused(400, 401, 503)},
            operationId="media_links", bearer=True,
            parameters=[query("ids", f"1..{MAX_LINKS} media ids, comma-separated", string(
                pattern=f"^{one_id}(,{one_id}){{0,{MAX_LINKS - 1}}}$"), required=True)])},
        "/api/media/{media_id}": {"get": download(head=False), "head": download(head=True)},
    }


def push_paths() -> Json:
    """Web Push subscriptions (httpapi/push.py, docs/protocol.md section 9)."""
    endpoint = "https://fcm.googleapis.com/fcm/send/dQ3c9"
    subscription = {"endpoint": endpoint, "expirationTime": None, "keys": {
        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg"}}
    unsubscribe = {"unsubscribe": link("push_unsubscribe", "drop it again", body={"endpoint": field("endpoint")})}
    return {
        "/api/push/vapid-public-key": {"get": operation(
            "The server's VAPID public key (`applicationServerKey`)", "push",
            {"200": ok("The key.", schema("VapidPublicKey"))}, operationId="vapid_public_key")},
        "/api/push/subscriptions": {
            "post": operation(
                "Subscribe this browser to Web Push", "push",
                {"201": ok("New for this user.", schema("PushSubscribed"), links=unsubscribe),
                 "200": ok("Already this user's (its keys are updated).", schema("PushSubscribed"),
                           links=unsubscribe),
                 **refused(400, 401, 413, 503)},
                operationId="push_subscribe", bearer=True,
                body=json_body(schema("PushSubscription"), subscription)),
            "delete": operation(
                "Drop a Web Push subscription", "push",
                {"204": ok("Dropped."), **refused(400, 401, 404, 413, 503)},
                operationId="push_unsubscribe", bearer=True,
                body=json_body(schema("PushEndpoint"), {"endpoint": endpoint})),
        },
    }


def admin_paths() -> Json:
    """The admin API, for users with the server-wide admin role (httpapi/admin.py, docs/admin.md)."""
    def action(summary: str, answer: str, statuses: tuple[int, ...], op_id: str,
               parameters: list[Json] | None = None, method: str = "post") -> Json:
        return {method: operation(summary, "admin", {"200": ok("Done.", schema(answer)),
                                                     **refused(401, 403, 503, *statuses)},
                                  operationId=op_id, bearer=True, parameters=parameters)}
    user_ref = path_param("ref", "a user id or username", string(min_len=1))
    actor_key = path_param("key", "the room or user id", {**INT, "minimum": 0})
    return {
        "/api/admin/status": action(
            "The node's supervision tree, connections, database and Redis", "AdminStatus", (400,), "admin_status",
            [query("limit", "children listed per supervisor, -1 for all (default 500)", between(-1, 1_000_000)),
             query("events", "recent supervisor events included (default 20)", between(0, 10_000))], "get"),
        "/api/admin/events": action("Recent supervisor events, oldest first", "AdminEvents", (400,), "admin_events",
                                    [query("limit", "how many (default 100)", between(0, 100_000))], "get"),
        "/api/admin/actors/{kind}/{key}/restart": action(
            "Restart a room or user actor", "ActorRestarting", (404, 409), "admin_restart_actor",
            [path_param("kind", "`room` or `user` (anything else is 404)", string()), actor_key]),
        "/api/admin/rooms/{key}/stop": action("Stop an idle room actor", "RoomStopped", (404, 409),
                                              "admin_stop_room", [actor_key]),
        "/api/admin/users/{ref}/disconnect": action("Close a user's connections on this node", "UserDisconnected",
                                                    (404,), "admin_disconnect_user", [user_ref]),
        "/api/admin/users/{ref}/disable": action("Disable an account", "UserDisabled", (404, 409),
                                                 "admin_disable_user", [user_ref]),
        "/api/admin/users/{ref}/enable": action("Enable an account again", "UserEnabled", (404,),
                                                "admin_enable_user", [user_ref]),
        "/api/admin/drain": action("Drain the node and stop it", "Draining", (400, 409), "admin_drain",
                                   [query("timeout", "seconds before it stops anyway (default 30)",
                                          between(1, 3600))]),
    }


def service_paths() -> Json:
    """The web client's configuration, this document, and the operators' probes."""
    return {
        "/api/config": {"get": operation(
            "Where the web client finds the websocket", "service",
            {"200": ok("The websocket's URL.", schema("ClientConfig"), CACHE_CONTROL),
             **refused(503)}, operationId="client_config")},
        PATH: {"get": operation("This document", "service",
                                {"200": ok("OpenAPI 3.1.", {"type": "object"})}, operationId="openapi")},
        "/healthz": {"get": operation(
            "Whether Postgres and Redis answer", "service",
            {"200": ok("Both answer.", schema("Health")), "503": ok("One does not.", schema("Health"))},
            operationId="healthz")},
        "/metrics": {"get": operation(
            "Prometheus metrics", "service", {"200": ok("Text exposition format.", {"type": "string"},
                                                        media_type="text/plain")},
            operationId="metrics")},
    }


def document() -> Json:
    """The whole OpenAPI document (a fresh dict each call: callers may change theirs)."""
    built = {
        "openapi": "3.1.0",
        "info": {
            "title": "chatd HTTP API",
            "version": str(PROTOCOL_VERSION),
            "description": (
                "The HTTP side of chatd (CHAT_HTTP_PORT): accounts, QR device login, media, Web Push "
                "subscriptions, the admin API and the operators' probes; the realtime part is the websocket "
                "(docs/protocol.md). Every refusal is a JSON `Error` `{code, message}` with the status of its "
                "code (and `Retry-After` on 429 and 503). This document is built by httpapi/openapi.py (its "
                f"one source), served as `GET {PATH}`, and written to docs/openapi.json; tests/test_openapi.py "
                "keeps the three and the server's routes in step."),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": name, "description": text} for name, text in (
            ("accounts", "Signup, login, refresh, logout (docs/protocol.md 3.1)"),
            ("qr-login", "Signing a new device in from a signed-in one (docs/protocol.md 3.9)"),
            ("media", "Files (docs/protocol.md section 8)"),
            ("push", "Web Push subscriptions (docs/protocol.md section 9)"),
            ("admin", "Operating a node: needs the admin role (docs/admin.md)"),
            ("service", "Configuration, this document, health and metrics"))],
        "paths": {**account_paths(), **qr_paths(), **media_paths(), **push_paths(), **admin_paths(),
                  **service_paths()},
        "components": COMPONENTS,
    }
    return json.loads(json.dumps(built))  # a deep copy: the blocks above share their small dicts


def rendered() -> str:
    """The document as docs/openapi.json holds it."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(rendered())
