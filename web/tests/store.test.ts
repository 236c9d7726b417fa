import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { Cache } from "../src/store/cache";
import { ChatStore } from "../src/store/chat";
import type { Message } from "../src/protocol/types";
import { fakeSockets, tokens, type FakeSocket } from "./fakeSocket";

const text = (room: number, seq: number, sender = 9): Message => ({ room, seq, ts: 1_700_000_000_000 + seq, kind: "text", sender, body: `m${seq}` });
let stores: ChatStore[] = [];
let n = 0;

async function boot(userId: number) {
  const socks = fakeSockets();
  const store = await ChatStore.open({ userId, username: "ann" }, { url: "ws://t/", tokens, socketFactory: socks.factory, backoff: () => 5, requestTimeoutMs: 300 });
  stores.push(store);
  store.start();
  return { store, socks };
}

/** Answer hello and list_rooms like a server would. */
async function online(sock: FakeSocket, rooms: Record<string, unknown>[]) {
  const hello = await sock.next("hello");
  sock.push({ t: "welcome", id: hello.id, version: 1, user_id: 1, username: "ann", max_frame_bytes: 65536 });
  const list = await sock.next("list_rooms");
  sock.push({ t: "rooms", id: list.id, rooms });
  return hello;
}

const room = (id: number, last_seq: number) => ({ room: id, kind: "direct", last_seq, delivered_seq: 0, read_seq: 0, unread: 0, member: true, peer: 9 });
const settle = () => new Promise((r) => setTimeout(r, 30));

afterEach(() => {
  stores.forEach((s) => s.stop());
  stores = [];
});

describe("Cache (IndexedDB)", () => {
  it("keeps messages by (room, seq) and answers ranges and the latest page", async () => {
    const cache = await Cache.open(`cache-test-${n++}`);
    await cache.putMessages([text(1, 1), text(1, 2), text(1, 3), text(2, 1), text(1, 10)]);
    expect((await cache.range(1, 2, 10)).map((m) => m.seq)).toEqual([2, 3, 10]);
    expect((await cache.latest(1, 2)).map((m) => m.seq)).toEqual([3, 10]);
    expect((await cache.latest(2, 5)).map((m) => m.room)).toEqual([2]);
    await cache.setCursor(1, 3);
    expect([...(await cache.cursors())]).toEqual([[1, 3]]);
    cache.close();
  });
});

describe("ChatStore", () => {
  it("stores pushed messages, acks them, and says hello with the cached cursors next time", async () => {
    const uid = 1000 + n++;
    const { store, socks } = await boot(uid);
    const sock = await socks.nth(0);
    const hello = await online(sock, [room(7, 0)]);
    expect(hello.cursors).toBeUndefined();
    sock.push({ t: "msgs", backlog: true, messages: [text(7, 1), text(7, 2), text(7, 3)] });
    expect(await sock.next("ack")).toEqual({ t: "ack", room: 7, seq: 3 });
    expect((await store.cache.range(7, 1, 3)).length).toBe(3);
    store.stop();

    const again = await boot(uid); // a reload: same account, same IndexedDB
    const sock2 = await again.socks.nth(0);
    const hello2 = await sock2.next("hello");
    expect(hello2.cursors).toEqual({ "#7": 3 });
  });

  it("opens a room from the cache with no history request, and asks only for the gap otherwise", async () => {
    const uid = 2000 + n++;
    const { store, socks } = await boot(uid);
    const sock = await socks.nth(0);
    await online(sock, [room(7, 3)]);
    sock.push({ t: "msgs", backlog: true, messages: [text(7, 1), text(7, 2), text(7, 3)] });
    await sock.next("ack");
    const opening = store.openRoom(7);
    const getRoom = await sock.next("get_room");
    sock.push({ t: "room", id: getRoom.id, room: { room: 7, kind: "direct", history_visibility: "shared", last_seq: 3, members: [] } });
    await opening;
    await settle();
    expect(sock.count("history")).toBe(0);
    expect(store.state.views[7]!.messages.map((m) => m.seq)).toEqual([1, 2, 3]);

    // Room 8: the cache holds 1-2 and 6; the server has up to 6: only 3-5 are asked for.
    await store.cache.putMessages([text(8, 1), text(8, 2), text(8, 6)]);
    const list = store.refreshRooms();
    const lr = await sock.next("list_rooms", 1);
    sock.push({ t: "rooms", id: lr.id, rooms: [room(7, 3), room(8, 6)] });
    await list;
    const opening8 = store.openRoom(8);
    const hist = await sock.next("history");
    expect(hist).toMatchObject({ room: 8, before_seq: 6, limit: 3 });
    sock.push({ t: "history_page", id: hist.id, room: 8, messages: [text(8, 3), text(8, 4), text(8, 5)], has_more: true });
    await opening8;
    expect(store.state.views[8]!.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sock.count("history")).toBe(1);
  });

  it("retries a send with the same client_id after `retry`, then stores it at its seq", async () => {
    const uid = 3000 + n++;
    const { store, socks } = await boot(uid);
    const sock = await socks.nth(0);
    await online(sock, [room(7, 1)]);
    void store.sendText(7, "hello");
    const first = await sock.next("send");
    sock.push({ t: "error", id: first.id, code: "retry", message: "database unavailable", retry_after: 0.01 });
    const second = await sock.next("send", 1);
    expect(second.client_id).toBe(first.client_id);
    expect(second).toMatchObject({ room: 7, body: "hello" });
    sock.push({ t: "sent", id: second.id, room: 7, seq: 2, ts: 5, client_id: first.client_id, duplicate: false });
    await settle();
    expect(Object.keys(store.state.outbox)).toEqual([]);
    expect((await store.cache.getMessage(7, 2))?.body).toBe("hello");
    expect(store.state.rooms[7]!.last_message?.body).toBe("hello");
  });

  it("applies status pushes as receipts and counts as badges", async () => {
    const uid = 4000 + n++;
    const { store, socks } = await boot(uid);
    const sock = await socks.nth(0);
    await online(sock, [room(7, 1)]);
    await settle();
    sock.push({ t: "status", room: 7, user: 9, delivered_seq: 4, read_seq: 3 });
    sock.push({ t: "counts", room: 7, unread: 5, mentions: 1, muted: false });
    await settle();
    expect(store.state.rooms[7]).toMatchObject({ unread: 5, mentions: 1, receipts: { 9: { delivered_seq: 4, read_seq: 3 } } });
    expect((await store.cache.rooms())[0]!.receipts).toEqual({ 9: { delivered_seq: 4, read_seq: 3 } });
  });

  it("edits and deletes through the server: the events change the view, a refusal rejects", async () => {
    const uid = 5000 + n++;
    const { store, socks } = await boot(uid);
    const sock = await socks.nth(0);
    await online(sock, [room(7, 2)]);
    sock.push({ t: "msgs", backlog: true, messages: [text(7, 1, uid), text(7, 2, uid)] });
    await sock.next("ack");
    const opening = store.openRoom(7);
    const getRoom = await sock.next("get_room");
    sock.push({ t: "room", id: getRoom.id, room: { room: 7, kind: "direct", history_visibility: "shared", last_seq: 2, members: [] } });
    await opening;

    const editing = store.editMessage(7, 1, "m1, fixed");
    const edit = await sock.next("edit");
    expect(edit).toMatchObject({ room: 7, seq: 1, body: "m1, fixed" });
    sock.push({ t: "ok", id: edit.id });
    await editing;
    const deleting = store.deleteMessage(7, 2);
    const del = await sock.next("delete");
    expect(del).toMatchObject({ room: 7, seq: 2 });
    sock.push({ t: "ok", id: del.id });
    await deleting;
    sock.push({ t: "msgs", backlog: false, messages: [
      { room: 7, seq: 3, ts: 9000, kind: "system", event: { type: "message_edited", target: 1, by: uid, body: "m1, fixed" } },
      { room: 7, seq: 4, ts: 9100, kind: "system", event: { type: "message_deleted", target: 2, by: uid } },
    ] });
    await settle();
    const [m1, m2] = store.state.views[7]!.messages;
    expect(m1).toMatchObject({ seq: 1, body: "m1, fixed", edited_ts: 9000 });
    expect(m2).toMatchObject({ seq: 2, deleted: true });
    expect(m2!.body).toBeUndefined();
    expect((await store.cache.getMessage(7, 1))?.body).toBe("m1, fixed");

    const refused = store.editMessage(7, 2, "again");
    const again = await sock.next("edit", 1);
    sock.push({ t: "error", id: again.id, code: "conflict", message: "message 2 was deleted" });
    await expect(refused).rejects.toMatchObject({ code: "conflict", message: "message 2 was deleted" });
  });

  it("names people it does not know by asking for their profiles once, together, never as an id", async () => {
    const uid = 9000 + n++;
    const { store, socks } = await boot(uid);
    const sock = await socks.nth(0);
    await online(sock, [{ ...room(7, 0), peer: 9 }]);
    const added: Message = { room: 7, seq: 2, ts: 1, kind: "system", event: { type: "member_added", by: 9, user: 12 } };
    sock.push({ t: "msgs", backlog: false, messages: [added] });
    const asked = new Map<number, number>();
    for (let i = 0; i < 2; i++) {
      const req = await sock.next("get_profile", i);
      asked.set(req.id as number, req.user as number);
    }
    expect([...asked.values()].sort((a, b) => a - b)).toEqual([9, 12]);
    expect(store.name(12)).toBe("…"); // not "user 12" while it is asked for
    for (const [id, user] of asked) {
      sock.push({ t: "profile", id, profile: { user, username: `u${user}`, ...(user === 9 ? { display_name: "Ann Lee", avatar: "Xq3abcdefghijklmnop" } : {}) } });
    }
    await settle();
    expect([store.name(9), store.name(12), store.avatarOf(9)]).toEqual(["Ann Lee", "u12", "Xq3abcdefghijklmnop"]);
    store.name(9);
    store.name(12);
    await settle();
    expect(sock.count("get_profile"), "asked once per session").toBe(2);
  });

  it("says 'unknown user' for an account the server no longer finds", async () => {
    const { store, socks } = await boot(9500 + n++);
    const sock = await socks.nth(0);
    await online(sock, []);
    expect(store.name(44)).toBe("…");
    const req = await sock.next("get_profile");
    sock.push({ t: "error", id: req.id, code: "not_found", message: "no such user: 44" });
    await settle();
    expect(store.name(44)).toBe("unknown user");
  });
});

