// The websocket side of docs/protocol.md: msgpack frames, request ids matched to replies, hello with
// cursors, reconnect with back-off, in-band token refresh. Knows nothing of React or IndexedDB.
import { decode, encode } from "@msgpack/msgpack";
import type { AnyServerFrame, Notices, PushFrame, Reply, RequestType, Requests } from "./types";

export class ChatError extends Error {
  constructor(readonly code: string, message: string, readonly retryAfter?: number) {
    super(message);
    this.name = "ChatError";
  }
}

/** The subset of the browser WebSocket the client uses (tests pass a fake). */
export interface SocketLike {
  binaryType: string;
  readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

export interface Tokens {
  /** A valid access token, refreshed first when it is about to expire; null when signed out. */
  access(): Promise<string | null>;
  /** Force a refresh (after the server said the token is bad); null when that failed for good. */
  refresh(): Promise<string | null>;
  /** ms epoch when the current access token expires (to schedule in-band refresh). */
  expiresAt(): number;
}

export type SignedOutReason = "device" | "account" | "disabled" | "refused";

export type ConnState = "offline" | "connecting" | "online";

export interface ClientOptions {
  url: string | (() => Promise<string>);
  tokens: Tokens;
  /** Cursors for hello: room -> highest contiguous seq this device holds. */
  cursors: () => Promise<Map<number, number>>;
  onPush: (frame: PushFrame) => void;
  onState?: (state: ConnState, welcome?: Reply<"hello">) => void;
  /** The session ended: `device` this device was signed out (4010), `account` the account was deleted or
   * disabled (4003), `refused` a refresh was refused. The client has stopped; do not restart it. */
  onSignedOut?: (reason: SignedOutReason) => void;
  socketFactory?: SocketFactory;
  requestTimeoutMs?: number;
  backoff?: (attempt: number, closeCode: number) => number;
  /** Called for every frame sent (tests and diagnostics). */
  onFrameSent?: (t: string) => void;
  /** Heartbeat: after this long with nothing received, send `ping` (default 10 s)... */
  heartbeatMs?: number;
  /** ...and take the connection for dead when no reply came within this (default 5 s). */
  pingTimeoutMs?: number;
}

interface Pending {
  resolve: (frame: AnyServerFrame) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;

function mapHeader(size: number): Uint8Array {
  if (size < 16) return Uint8Array.of(0x80 | size);
  if (size < 0x10000) return Uint8Array.of(0xde, size >> 8, size & 0xff);
  return Uint8Array.of(0xdf, size >>> 24, (size >> 16) & 0xff, (size >> 8) & 0xff, size & 0xff);
}

/**
 * msgpack for a frame. @msgpack/msgpack writes every map key as a string, but `hello.cursors` needs
 * integer keys on the wire (docs/protocol.md 1): a `Map` value is written as a map with its own keys.
 */
export function encodeFrame(frame: Record<string, unknown>): Uint8Array {
  const entries = Object.entries(frame).filter(([, v]) => v !== undefined);
  if (!entries.some(([, v]) => v instanceof Map)) return encode(frame, { ignoreUndefined: true });
  const parts: Uint8Array[] = [mapHeader(entries.length)];
  for (const [k, v] of entries) {
    parts.push(encode(k));
    if (v instanceof Map) {
      parts.push(mapHeader(v.size));
      for (const [mk, mv] of v) parts.push(encode(mk), encode(mv));
    } else {
      parts.push(encode(v, { ignoreUndefined: true }));
    }
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function defaultBackoff(attempt: number, closeCode: number): number {
  const base = closeCode === 1013 ? 3000 : 500;
  const ms = Math.min(30_000, base * 2 ** Math.min(attempt, 6));
  return ms / 2 + Math.random() * (ms / 2);
}

export class ChatClient {
  private ws: SocketLike | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private state: ConnState = "offline";
  private stopped = true;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private readyWaiters: (() => void)[] = [];
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  private lastHeard = 0;
  maxFrameBytes = 65536;

  constructor(private readonly opts: ClientOptions) {}

  get connState(): ConnState {
    return this.state;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.setState("connecting"); // tries after a failed retry stay "offline" until one works
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.stopHeartbeat();
    this.ws?.close(1000, "bye");
    this.ws = null;
    this.failPending(new ChatError("offline", "the client was stopped"));
    this.setState("offline");
  }

  /** Give up on the current connection now (no answer to a ping, the browser went offline) and connect
   * again after the usual back-off. Pending requests fail with `offline`; sends are retried by their owner. */
  reconnect(reason: string): void {
    const ws = this.ws;
    if (!ws || this.stopped) return;
    this.lost(ws, 1006);
    try {
      ws.close(4000, reason); // its close event is ignored: this.ws is no longer it
    } catch {
      /* already closing */
    }
  }

  /** Resolves once the connection is authenticated (after welcome). */
  ready(): Promise<void> {
    if (this.state === "online") return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Send a request and wait for its reply (or reject with ChatError). Waits for the session first. */
  async request<K extends RequestType>(type: K, fields: Requests[K]["req"], timeoutMs?: number): Promise<Reply<K>> {
    if (type !== "hello") await this.ready();
    return this.rawRequest(type, fields, timeoutMs);
  }

  /** ack, read, typing: no id, no reply; dropped when offline (a later one supersedes them). */
  notify<K extends keyof Notices>(type: K, fields: Notices[K]): void {
    if (this.state !== "online" || !this.ws) return;
    this.write({ t: type, ...fields });
  }

  private rawRequest<K extends RequestType>(type: K, fields: Requests[K]["req"], timeoutMs?: number): Promise<Reply<K>> {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return Promise.reject(new ChatError("offline", "not connected"));
    const id = this.nextId++;
    return new Promise<Reply<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ChatError("timeout", `no reply to ${type}`));
      }, timeoutMs ?? this.opts.requestTimeoutMs ?? 15_000);
      this.pending.set(id, { resolve: (f) => resolve(f as unknown as Reply<K>), reject, timer });
      this.write({ t: type, id, ...fields });
    });
  }

  private write(frame: Record<string, unknown>): void {
    this.opts.onFrameSent?.(frame.t as string);
    this.ws?.send(encodeFrame(frame));
  }

  private setState(state: ConnState, welcome?: Reply<"hello">): void {
    if (state === this.state && !welcome) return;
    this.state = state;
    if (state === "online") {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      waiters.forEach((w) => w());
    }
    this.opts.onState?.(state, welcome);
  }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let token: string | null;
    try {
      token = await this.opts.tokens.access();
    } catch {
      return this.scheduleReconnect(1006); // the HTTP side is unreachable: try again later
    }
    if (!token) return this.signedOut();
    const url = typeof this.opts.url === "string" ? this.opts.url : await this.opts.url().catch(() => null);
    if (this.stopped) return;
    if (!url) return this.scheduleReconnect(1006);
    const ws = (this.opts.socketFactory ?? ((u) => new WebSocket(u) as unknown as SocketLike))(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onerror = () => undefined;
    ws.onclose = (ev) => this.lost(ws, ev.code, ev.reason);
    ws.onopen = () => void this.hello(ws, token);
  }

  /** `ws` is gone (closed, or given up on): fail what waits on it, then reconnect or stop as `code` says. */
  private lost(ws: SocketLike, code: number, reason = ""): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.stopHeartbeat();
    this.failPending(new ChatError("offline", "connection closed"));
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.stopped) this.setState("offline");
    else if (this.state === "online") this.setState("connecting"); // a failed retry stays "offline"
    if (code === 4001) {
      void this.opts.tokens.refresh().then(
        (t) => (t ? this.scheduleReconnect(code, 0) : this.signedOut()),
        () => this.scheduleReconnect(code),
      );
    }
    else if (code === 4010) this.signedOut("device");
    else if (code === 4003) this.signedOut(/disabled/i.test(reason) ? "disabled" : "account"); // disabled or deleted
    else if (code !== 1009) this.scheduleReconnect(code);
  }

  /** While online: after `heartbeatMs` with nothing received, ping; no reply within `pingTimeoutMs` means the
   * connection is dead although no close came (sleep, a network change): drop it and reconnect. */
  private scheduleHeartbeat(ws: SocketLike, inMs = this.opts.heartbeatMs ?? 10_000): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setTimeout(() => void this.heartbeat(ws), inMs);
  }

  private async heartbeat(ws: SocketLike): Promise<void> {
    this.heartbeatTimer = null;
    if (this.ws !== ws || this.state !== "online") return;
    const every = this.opts.heartbeatMs ?? 10_000;
    const quiet = Date.now() - this.lastHeard;
    if (quiet < every) return this.scheduleHeartbeat(ws, every - quiet);
    try {
      await this.rawRequest("ping", {}, this.opts.pingTimeoutMs ?? 5_000);
      if (this.ws === ws) this.scheduleHeartbeat(ws);
    } catch (err) {
      if (this.ws === ws && err instanceof ChatError && err.code === "timeout") this.reconnect("no answer to ping");
      else if (this.ws === ws) this.scheduleHeartbeat(ws);
    }
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async hello(ws: SocketLike, token: string): Promise<void> {
    try {
      const cursors = await this.opts.cursors();
      let welcome: Reply<"hello">;
      try {
        welcome = await this.rawRequest("hello", { version: 1, token, cursors: cursors.size ? cursors : undefined });
      } catch (err) {
        if (!(err instanceof ChatError) || err.code !== "unauthorized") throw err;
        const fresh = await this.opts.tokens.refresh();
        if (!fresh) return this.signedOut();
        welcome = await this.rawRequest("hello", { version: 1, token: fresh, cursors: cursors.size ? cursors : undefined });
      }
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.maxFrameBytes = welcome.max_frame_bytes;
      this.scheduleRefresh();
      this.lastHeard = Date.now();
      this.setState("online", welcome);
      this.scheduleHeartbeat(ws);
    } catch {
      if (this.ws === ws) ws.close(4000, "hello failed");
    }
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const inMs = Math.max(5_000, (this.opts.tokens.expiresAt() - Date.now()) * 0.8);
    this.refreshTimer = setTimeout(() => void this.refreshNow(), inMs);
  }

  private async refreshNow(): Promise<void> {
    try {
      const token = await this.opts.tokens.refresh();
      if (!token) return this.signedOut();
      await this.rawRequest("auth", { token });
      this.scheduleRefresh();
    } catch {
      this.ws?.close(4000, "auth failed");
    }
  }

  /** The network is back (the browser's `online` event): try now, not at the end of the back-off. */
  reconnectNow(): void {
    if (this.stopped || !this.reconnectTimer) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    void this.connect();
  }

  private scheduleReconnect(code: number, delay?: number): void {
    if (this.stopped || this.reconnectTimer) return;
    const failed = this.attempt; // tries in a row that did not get to welcome
    const ms = delay ?? (this.opts.backoff ?? defaultBackoff)(this.attempt++, code);
    if (ms > 0 && failed > 0) this.setState("offline"); // not a blip: say so until a try gets through
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, ms);
  }

  private signedOut(reason: SignedOutReason = "refused"): void {
    this.stop();
    this.opts.onSignedOut?.(reason);
  }

  private receive(data: unknown): void {
    this.lastHeard = Date.now();
    if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) return;
    let frame: AnyServerFrame;
    try {
      frame = decode(data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array)) as AnyServerFrame;
    } catch {
      return;
    }
    const id = (frame as { id?: unknown }).id;
    if (typeof id === "number" && this.pending.has(id)) {
      const p = this.pending.get(id)!;
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (frame.t === "error") p.reject(new ChatError(frame.code, frame.message, frame.retry_after));
      else p.resolve(frame);
      return;
    }
    this.opts.onPush(frame as PushFrame);
  }
}
