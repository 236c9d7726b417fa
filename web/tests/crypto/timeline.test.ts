import { beforeAll, describe, expect, it } from "vitest";
import { CryptoMachine } from "../../src/crypto/machine";
import { loadOlm } from "../../src/crypto/olm";
import { MemoryStore, SealedStore } from "../../src/crypto/store";
import { Timeline } from "../../src/crypto/timeline";
import type { Message } from "../../src/protocol/types";
import { FakeServer, roomMembers } from "./fakeServer";

beforeAll(() => loadOlm());

async function device(server: FakeServer, user: number, id: string) {
  const store = await SealedStore.open(new MemoryStore(), crypto.getRandomValues(new Uint8Array(32)));
  const m = await CryptoMachine.open({ me: { user, device: id }, store, transport: server.transport(user, id), streamWaitMs: 5, requestWaitMs: 5, log: () => undefined });
  await m.publishKeys();
  return m;
}

const settle = () => new Promise((r) => setTimeout(r, 30));

describe("the timeline of an encrypted room", () => {
  it("shows 'waiting for the key', then the text once the key arrives", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const bob = await device(server, 2, "b1");
    let changes = 0;
    const timeline = new Timeline(() => bob, () => changes++);
    bob.on((e) => e.type === "keys" && timeline.retry(e.session_id));
    const encrypted = await ann.encrypt(7, roomMembers([1, 2]), { kind: "text", body: "hi bob" });
    const m: Message = { room: 7, seq: 3, ts: 0, kind: "encrypted", sender: 1, encrypted };
    timeline.want([m]);
    await settle();
    expect(timeline.shown(m)).toMatchObject({ body: undefined, e2ee: { state: "pending" } });
    await bob.receiveToDevice(server.take(2, "b1"));
    await settle();
    expect(timeline.shown(m)).toMatchObject({ kind: "text", body: "hi bob", e2ee: { state: "ok" } });
    expect(changes).toBeGreaterThan(0);
  });

  it("says 'unable to decrypt' only when the search ends, and a plain message passes through", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const bob = await device(server, 2, "b1");
    const timeline = new Timeline(() => bob, () => undefined);
    bob.on((e) => e.type === "search" && timeline.searched(e.session_id, e.search));
    const encrypted = await ann.encrypt(7, roomMembers([1, 2]), { kind: "text", body: "lost" });
    server.take(2, "b1");
    const m: Message = { room: 7, seq: 4, ts: 0, kind: "encrypted", sender: 1, encrypted };
    timeline.want([m]);
    await settle();
    expect(timeline.shown(m).e2ee).toMatchObject({ state: "failed" });
    const plain: Message = { room: 8, seq: 1, ts: 0, kind: "text", sender: 1, body: "plain" };
    expect(timeline.shown(plain)).toBe(plain);
  });
});

import { chunks } from "../../src/crypto/transport";

describe("frames under the server's size limit", () => {
  it("splits big batches by bytes, small ones by count", () => {
    const big = Array.from({ length: 10 }, (_, i) => ({ user: i, device: "d", body: "x".repeat(20_000) }));
    const parts = chunks(big, 65536);
    expect(parts.length).toBeGreaterThan(3);
    expect(parts.every((p) => p.length >= 1 && JSON.stringify(p).length < 65536)).toBe(true);
    expect(parts.flat()).toEqual(big);
    expect(chunks(Array.from({ length: 2500 }, (_, i) => i), 10_000_000).map((p) => p.length)).toEqual([1000, 1000, 500]);
  });
});
