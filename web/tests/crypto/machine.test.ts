import { beforeAll, describe, expect, it } from "vitest";
import { CryptoMachine, type CryptoEvent } from "../../src/crypto/machine";
import { loadOlm } from "../../src/crypto/olm";
import { MemoryStore, SealedStore } from "../../src/crypto/store";
import { FakeServer, roomMembers } from "./fakeServer";
import type { CryptoTransport } from "../../src/crypto/wire";

beforeAll(() => loadOlm());

const ROOM = 7;
let clock = 1_000_000;

async function device(server: FakeServer, user: number, device: string, events: CryptoEvent[] = [],
  wrap: (t: CryptoTransport) => CryptoTransport = (t) => t) {
  const store = await SealedStore.open(new MemoryStore(), crypto.getRandomValues(new Uint8Array(32)));
  const m = await CryptoMachine.open({
    me: { user, device }, store, transport: wrap(server.transport(user, device)), now: () => clock,
    streamWaitMs: 5, requestWaitMs: 20, log: () => undefined,
  });
  m.on((e) => events.push(e));
  await m.publishKeys();
  return m;
}

async function deliver(server: FakeServer, m: CryptoMachine) {
  await m.receiveToDevice(server.take(m.me.user, m.me.device));
}

const text = (body: string) => ({ kind: "text" as const, body });

describe("crypto machine", () => {
  it("shares the room key before the message and the other member reads it", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const bob = await device(server, 2, "b1");
    const payload = await ann.encrypt(ROOM, roomMembers([1, 2]), text("hello bob"));
    expect(server.sent.map((m) => m.device)).toEqual(["b1"]); // the key went out before the message existed
    await deliver(server, bob);
    const r = await bob.decrypt(ROOM, 1, payload);
    expect(r).toMatchObject({ state: "ok", content: { body: "hello bob", room: ROOM }, verified: false });
    expect(await ann.decrypt(ROOM, 1, payload)).toMatchObject({ state: "ok", content: { body: "hello bob" }, verified: true });
  });

  it("keeps a message pending until its key arrives, then decrypts it", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const events: CryptoEvent[] = [];
    const bob = await device(server, 2, "b1", events);
    const payload = await ann.encrypt(ROOM, roomMembers([1, 2]), text("late key"));
    expect(await bob.decrypt(ROOM, 1, payload)).toEqual({ state: "pending", search: "waiting" });
    await deliver(server, bob);
    expect(events).toContainEqual({ type: "keys", room: ROOM, session_id: payload.session_id });
    expect(await bob.decrypt(ROOM, 1, payload)).toMatchObject({ state: "ok", content: { body: "late key" } });
  });

  it("says unable to decrypt only after the stream, the backup and own devices gave nothing", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const events: CryptoEvent[] = [];
    const bob = await device(server, 2, "b1", events);
    const payload = await ann.encrypt(ROOM, roomMembers([1, 2]), text("lost"));
    server.take(2, "b1"); // the key is lost
    expect((await bob.decrypt(ROOM, 1, payload)).state).toBe("pending");
    await new Promise((r) => setTimeout(r, 60));
    expect(events.filter((e) => e.type === "search").map((e) => e.type === "search" && e.search)).toEqual(["backup", "requested", "failed"]);
    expect(await bob.decrypt(ROOM, 1, payload)).toEqual({ state: "failed", reason: "the key never came" });
  });

  it("rotates after 100 messages, a week, a member change and a device change", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    await device(server, 2, "b1");
    const first = await ann.encrypt(ROOM, roomMembers([1, 2]), text("0"));
    for (let i = 1; i < 100; i++) expect((await ann.encrypt(ROOM, roomMembers([1, 2]), text(String(i)))).session_id).toBe(first.session_id);
    const s2 = (await ann.encrypt(ROOM, roomMembers([1, 2]), text("100"))).session_id;
    expect(s2).not.toBe(first.session_id);

    clock += 7 * 24 * 3600 * 1000;
    const s3 = (await ann.encrypt(ROOM, roomMembers([1, 2]), text("a week later"))).session_id;
    expect(s3).not.toBe(s2);

    await device(server, 3, "c1");
    const s4 = (await ann.encrypt(ROOM, roomMembers([1, 2, 3]), text("carl joined"))).session_id;
    expect(s4).not.toBe(s3);
    const s5 = (await ann.encrypt(ROOM, roomMembers([1, 2]), text("carl left"))).session_id;
    expect(s5).not.toBe(s4);

    await device(server, 2, "b2"); // bob signs in on a second device
    ann.devicesChanged(2);
    const s6 = await ann.encrypt(ROOM, roomMembers([1, 2]), text("bob's new phone"));
    expect(s6.session_id).not.toBe(s5);
    server.signOut(2, "b2");
    ann.devicesChanged(2);
    expect((await ann.encrypt(ROOM, roomMembers([1, 2]), text("b2 gone"))).session_id).not.toBe(s6.session_id);
  });

  it("uses a session only for the member list it was shared with, even when the devices are the same", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    await device(server, 2, "b1");
    const first = await ann.encrypt(ROOM, roomMembers([1, 2, 4], 10), text("dan has no devices"));
    expect((await ann.encrypt(ROOM, roomMembers([1, 2, 4], 10), text("same list"))).session_id).toBe(first.session_id);
    const after = await ann.encrypt(ROOM, roomMembers([1, 2], 11), text("dan was removed"));
    expect(after.session_id).not.toBe(first.session_id);
  });

  it("two messages sent at once share one session, keyed before either is ready to go", async () => {
    const server = new FakeServer();
    const order: string[] = [];
    const ann = await device(server, 1, "a1", [], (t) => ({ ...t, sendToDevice: async (txn, m) => { await t.sendToDevice(txn, m); order.push("key"); } }));
    const bob = await device(server, 2, "b1");
    const [a, b] = await Promise.all([
      ann.encrypt(ROOM, roomMembers([1, 2]), text("one")).then((p) => (order.push("one"), p)),
      ann.encrypt(ROOM, roomMembers([1, 2]), text("two")).then((p) => (order.push("two"), p)),
    ]);
    expect(order).toEqual(["key", "one", "two"]);
    expect(a.session_id).toBe(b.session_id);
    await deliver(server, bob);
    expect(await bob.decrypt(ROOM, 1, b)).toMatchObject({ state: "ok", content: { body: "two" } });
  });

  it("refuses a message replayed at another place in the room", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const bob = await device(server, 2, "b1");
    const payload = await ann.encrypt(ROOM, roomMembers([1, 2]), text("pay bob 10"));
    await deliver(server, bob);
    expect((await bob.decrypt(ROOM, 1, payload, 5)).state).toBe("ok");
    expect((await bob.decrypt(ROOM, 1, payload, 5)).state).toBe("ok"); // the same message shown again
    expect(await bob.decrypt(ROOM, 1, payload, 9)).toEqual({ state: "failed", reason: "a replay of message 5" });
  });

  it("a removed member gets no key for what is sent after", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const carl = await device(server, 3, "c1");
    await ann.encrypt(ROOM, roomMembers([1, 3]), text("before"));
    await deliver(server, carl);
    const after = await ann.encrypt(ROOM, roomMembers([1]), text("after carl left"));
    await deliver(server, carl);
    expect((await carl.decrypt(ROOM, 1, after)).state).toBe("pending");
  });

  it("still reads a key its sender sent before signing out, and sends that device nothing more", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const bob = await device(server, 2, "b1");
    await bob.refreshDevices([1]); // bob knew ann's device before it left
    const payload = await ann.encrypt(ROOM, roomMembers([1, 2]), text("sent, then signed out"));
    server.signOut(1, "a1");
    bob.devicesChanged(1);
    await bob.refreshDevices([1]);
    await deliver(server, bob); // the key arrives late
    expect(await bob.decrypt(ROOM, 1, payload)).toMatchObject({ state: "ok", content: { body: "sent, then signed out" } });
    server.sent = [];
    await bob.encrypt(ROOM, roomMembers([1, 2]), text("ann is gone"));
    expect(server.sent).toEqual([]);
  });

  it("makes a new session when the key could not be shared, so no message goes out under an unshared key", async () => {
    const server = new FakeServer();
    let fail = true;
    const ann = await device(server, 1, "a1", [], (t) => ({ ...t, sendToDevice: (txn, m) => (fail ? Promise.reject(new Error("offline")) : t.sendToDevice(txn, m)) }));
    const bob = await device(server, 2, "b1");
    await expect(ann.encrypt(ROOM, roomMembers([1, 2]), text("no"))).rejects.toThrow("offline");
    fail = false;
    const payload = await ann.encrypt(ROOM, roomMembers([1, 2]), text("now"));
    await deliver(server, bob);
    expect(await bob.decrypt(ROOM, 1, payload)).toMatchObject({ state: "ok", content: { body: "now" } });
  });

  it("flags a device whose identity key changed and sends it no key", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    await device(server, 2, "b1");
    await ann.encrypt(ROOM, roomMembers([1, 2]), text("hi"));
    expect(ann.identityWarnings()).toEqual([]);
    const mallory = await device(new FakeServer(), 2, "b1"); // other keys under bob's device id
    server.tamper = (infos) => infos.map((i) => (i.user === 2 ? { ...i, identity_key: mallory.identityKey, signing_key: mallory.signingKey, signature: signOf(mallory) } : i));
    ann.devicesChanged(2);
    server.sent = [];
    await ann.encrypt(ROOM, roomMembers([1, 2]), text("who is this"));
    expect(ann.identityWarnings()).toEqual([2]);
    expect(server.sent).toEqual([]);
  });

  it("drops a to-device message replayed to another device", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const bob = await device(server, 2, "b1");
    const bob2 = await device(server, 2, "b2");
    const payload = await ann.encrypt(ROOM, roomMembers([1, 2]), text("for bob's devices"));
    const [toB1] = server.take(2, "b1");
    server.take(2, "b2");
    await bob2.receiveToDevice([toB1!]); // the server replays b1's copy to b2
    expect((await bob2.decrypt(ROOM, 1, payload)).state).toBe("pending");
    await bob.receiveToDevice([toB1!]);
    expect((await bob.decrypt(ROOM, 1, payload)).state).toBe("ok");
  });

  it("restores history on a new device from the backup, and refuses a wrong recovery key", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const bob = await device(server, 2, "b1");
    const old = await ann.encrypt(ROOM, roomMembers([1, 2]), text("before the backup"));
    const recovery = await bob.createBackup(); // bob's a1-less history: his device received the key
    await deliver(server, bob);
    expect(recovery).toMatch(/^(\w{4} )+\w{1,4}$/);
    const phone = await device(server, 2, "b2");
    await expect(phone.useRecoveryKey("EsTc LW2K 1111")).rejects.toThrow(/not a whole recovery key/);
    const other = (await (await device(new FakeServer(), 9, "x")).createBackup());
    await expect(phone.useRecoveryKey(other)).rejects.toThrow(/does not match your backup/);
    expect(await phone.useRecoveryKey(recovery)).toBe(1);
    expect(await phone.decrypt(ROOM, 1, old)).toMatchObject({ state: "ok", content: { body: "before the backup" } });
  });

  it("verifies own devices by SAS, then one forwards a key the other asks for", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const laptop = await device(server, 2, "b1");
    const phone = await device(server, 2, "b2");
    const txn = await laptop.verifications.request(2, "b2");
    await deliver(server, phone);
    await phone.verifications.accept(txn);
    for (let i = 0; i < 3; i++) {
      await deliver(server, laptop);
      await deliver(server, phone);
    }
    const [a] = laptop.verifications.list();
    const [b] = phone.verifications.list();
    expect(a?.phase).toBe("emoji");
    expect(a?.emoji).toHaveLength(7);
    expect(b?.emoji).toEqual(a?.emoji);
    await laptop.verifications.confirm(txn);
    await phone.verifications.confirm(txn);
    for (let i = 0; i < 2; i++) {
      await deliver(server, laptop);
      await deliver(server, phone);
    }
    expect(laptop.verifications.list()[0]?.phase).toBe("done");
    expect(phone.verifications.list()[0]?.phase).toBe("done");
    expect(laptop.devices.get(2, "b2")?.verified).toBe(true);
    expect(phone.devices.get(2, "b1")?.verified).toBe(true);

    const payload = await ann.encrypt(ROOM, roomMembers([1, 2]), text("for both"));
    server.take(2, "b2"); // the phone lost its copy
    await deliver(server, laptop);
    expect((await phone.decrypt(ROOM, 1, payload)).state).toBe("pending");
    await new Promise((r) => setTimeout(r, 10)); // stream wait, backup (none), then the request
    await deliver(server, laptop); // the laptop answers
    await deliver(server, phone);
    expect(await phone.decrypt(ROOM, 1, payload)).toMatchObject({ state: "ok", content: { body: "for both" } });
  });

  it("cancels when the user says the emoji differ, and marks nothing", async () => {
    const server = new FakeServer();
    const laptop = await device(server, 2, "b1");
    const phone = await device(server, 2, "b2");
    const txn = await laptop.verifications.request(2, "b2");
    await deliver(server, phone);
    await phone.verifications.accept(txn);
    for (let i = 0; i < 3; i++) {
      await deliver(server, laptop);
      await deliver(server, phone);
    }
    await phone.verifications.cancel(txn, "the emoji do not match");
    await deliver(server, laptop);
    expect(laptop.verifications.list()[0]).toMatchObject({ phase: "cancelled", reason: "the emoji do not match" });
    expect(laptop.devices.get(2, "b2")?.verified).toBe(false);
  });
});

import { deviceKeysStatement } from "../../src/crypto/statements";
function signOf(m: CryptoMachine): string {
  return (m as unknown as { olm: { account: { sign(s: string): string } } }).olm.account.sign(
    deviceKeysStatement(2, "b1", m.identityKey, m.signingKey));
}
