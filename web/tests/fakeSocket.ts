import { decode, encode } from "@msgpack/msgpack";
import type { SocketLike } from "../src/protocol/client";

/** An in-memory websocket: the test plays the server. */
export class FakeSocket implements SocketLike {
  binaryType = "arraybuffer";
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  raw: Uint8Array[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly url: string) {}
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  send(data: Uint8Array): void {
    this.raw.push(data);
    // integer map keys are marked "#42" so tests can tell them from string keys (the server would refuse those)
    this.sent.push(decode(data, { mapKeyConverter: (k: unknown) => (typeof k === "number" ? `#${k}` : k) } as never) as Record<string, unknown>);
    this.waiters.splice(0).forEach((w) => w());
  }
  close(code = 1000, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  /** Server -> client frame. */
  push(frame: Record<string, unknown>): void {
    const bytes = encode(frame);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }
  /** Wait until the client has sent a frame of type `t` (beyond the first `skip` of that type). */
  async next(t: string, skip = 0): Promise<Record<string, unknown>> {
    for (let i = 0; i < 200; i++) {
      const found = this.sent.filter((f) => f.t === t)[skip];
      if (found) return found;
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 10);
      });
    }
    throw new Error(`client never sent ${t}; sent: ${this.sent.map((f) => f.t).join(", ")}`);
  }
  count(t: string): number {
    return this.sent.filter((f) => f.t === t).length;
  }
}

export function fakeSockets() {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    factory: (url: string) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      queueMicrotask(() => s.open());
      return s;
    },
    async nth(i: number): Promise<FakeSocket> {
      for (let k = 0; k < 200 && !sockets[i]; k++) await new Promise((r) => setTimeout(r, 5));
      if (!sockets[i]) throw new Error(`socket ${i} never opened`);
      return sockets[i];
    },
  };
}

export const tokens = {
  access: async () => "tok",
  refresh: async () => "tok2",
  expiresAt: () => Date.now() + 900_000,
};
