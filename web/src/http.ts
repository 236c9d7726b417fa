// The HTTP side: auth (the refresh token stays in an HttpOnly cookie the server sets on /api/auth/),
// /api/config, media upload (XHR for progress) and signed media links.
import type { AuthOk } from "./protocol/types";
import { ChatError } from "./protocol/client";

/** What /api/auth/ answers: auth_ok without the refresh token, which only the cookie holds. */
export type WebAuthOk = Omit<AuthOk, "refresh_token">;

async function answer<T>(res: Response): Promise<T> {
  const data = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!res.ok) throw new ChatError(data.code ?? "http_" + res.status, data.message ?? res.statusText);
  return data as T;
}

async function postJson<T>(path: string, body: unknown, token?: string, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (path.startsWith("/api/auth/")) headers["X-Chatd"] = "1"; // the server's CSRF check for cookie requests
  return answer<T>(await fetch(path, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin", signal }));
}

export const signup = (username: string, email: string, password: string, invite?: string) =>
  postJson<WebAuthOk>("/api/auth/signup", { username, email, password, device: deviceLabel(), invite });
export const login = (username: string, password: string) =>
  postJson<WebAuthOk>("/api/auth/login", { username, password, device: deviceLabel() });
/** Refresh with the cookie; `legacy`: a refresh token an older client kept in localStorage (moved into the cookie). */
export const refresh = (legacy?: string) => postJson<WebAuthOk>("/api/auth/refresh", legacy ? { refresh_token: legacy } : {});
export const logout = () => postJson<object>("/api/auth/logout", {});

/** QR login (docs/protocol.md 3.9): a request to show (`code`) and the secret only this tab keeps. */
export interface QrStarted { code: string; secret: string; expires_in: number }
export const qrStart = () => postJson<QrStarted>("/api/qr/start", { device: deviceLabel() });
/** One long-poll: this tab's session once approved (the refresh token goes into the cookie), or still pending. */
export const qrWait = (code: string, secret: string, signal?: AbortSignal) =>
  postJson<WebAuthOk | { status: "pending"; expires_in: number }>("/api/auth/qr/wait", { code, secret }, undefined, signal);

function deviceLabel(): string {
  const ua = typeof navigator === "undefined" ? "" : navigator.userAgent;
  const browser = /Firefox/.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom/.test(ua) ? "Chrome" : /Safari/.test(ua) ? "Safari" : "Browser";
  return `web (${browser})`;
}

/** Where the websocket is: the server tells (its port differs from the HTTP side's). */
export async function wsUrl(): Promise<string> {
  const res = await fetch("/api/config");
  if (!res.ok) throw new Error("no /api/config");
  return ((await res.json()) as { ws_url: string }).ws_url;
}

export interface Uploaded {
  id: string;
  mime: string;
  size: number;
  width: number | null;
  height: number | null;
  filename: string | null;
  thumbnail_id: string | null;
}

export interface UploadHandle {
  promise: Promise<Uploaded>;
  abort: () => void; // a function of its own (no `this`): handed around as upload state's `abort`
}

/** POST the file's bytes to /api/media; `onProgress` gets 0..1. */
export function upload(file: Blob, name: string, token: string, onProgress: (fraction: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<Uploaded>((resolve, reject) => {
    xhr.open("POST", `/api/media?filename=${encodeURIComponent(name)}`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(xhr.responseText) as Record<string, unknown>;
      } catch {
        /* not JSON */
      }
      if (xhr.status === 201) resolve(data as unknown as Uploaded);
      else reject(new ChatError(typeof data.code === "string" ? data.code : String(xhr.status),
        typeof data.message === "string" ? data.message : "upload failed"));
    };
    xhr.onerror = () => reject(new ChatError("network", "upload failed: network error"));
    xhr.onabort = () => reject(new ChatError("aborted", "upload cancelled"));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

export interface SignedLinks {
  expires: number; // unix seconds, the server's clock
  expires_in: number; // seconds from the answer until then (use this: the local clock may be off)
  links: Record<string, string>;
}

/** Signed URLs (no token in them) for up to 100 media ids at once. */
export async function mediaLinks(ids: string[], token: string): Promise<SignedLinks> {
  const query = encodeURIComponent(ids.join(","));
  return answer<SignedLinks>(await fetch(`/api/media/links?ids=${query}`, { headers: { Authorization: `Bearer ${token}` } }));
}

export async function subscribePush(token: string, sub: PushSubscription): Promise<void> {
  await postJson("/api/push/subscriptions", sub.toJSON(), token);
}

export async function unsubscribePush(token: string, endpoint: string): Promise<void> {
  await fetch("/api/push/subscriptions", {
    method: "DELETE",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ endpoint }),
  });
}

export async function vapidKey(): Promise<string> {
  const res = await fetch("/api/push/vapid-public-key");
  return ((await res.json()) as { public_key: string }).public_key;
}
