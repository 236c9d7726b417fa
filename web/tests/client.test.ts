import { describe, expect, it } from "vitest";
import { ChatClient, ChatError } from "../src/protocol/client";
import type { PushFrame } from "../src/protocol/types";
import { fakeSockets, tokens } from "./fakeSocket";

function setup(cursors = new Map<number, number>(), extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}) {
  const socks = fakeSockets();
  const pushes: PushFrame[] = [];
  const states: string[] = [];
  const signedOut: string[] = [];
  const client = new ChatClient({
    url: "ws://test/", tokens, cursors: async () => cursors, onPush: (f) => pushes.push(f),
    onState: (s) => states.push(s), socketFactory: socks.factory, backoff: () => 5, requestTimeoutMs: 200,
    onSignedOut: (reason) => signedOut.push(reason), ...extra,
  });
  return { socks, pushes, states, client, signedOut };
}

async function welcome(sock: Awaited<ReturnType<ReturnType<typeof fakeSockets>["nth"]>>, skip = 0) {
  const hello = await sock.next("hello", skip);
  sock.push({ t: "welcome", id: hello.id, version: 1, user_id: 5, username: "ann", max_frame_bytes: 1000 });
  return hello;
}

describe("ChatClient", () => {
  it("says hello with integer-keyed cursors and goes online", async () => {
    const { socks, client, states } = setup(new Map([[42, 17], [7, 0]]));
    client.start();
    const sock = await socks.nth(0);
    const hello = await welcome(sock);
    expect(hello).toMatchObject({ t: "hello", version: 1, token: "tok" });
    // msgpack map keys must be integers on the wire (docs/protocol.md 1)
    expect(hello.cursors).toEqual({ "#42": 17, "#7": 0 });
    await client.ready();
    expect(states.at(-1)).toBe("online");
    expect(client.maxFrameBytes).toBe(1000);
    client.stop();
  });

  it("matches replies by id, in any order, and turns error frames into ChatError", async () => {
    const { socks, client } = setup();
    client.start();
    const sock = await socks.nth(0);
    await welcome(sock);
    const a = client.request("get_room", { room: 1 });
    const b = client.request("history", { room: 1, limit: 10 });
    const reqA = await sock.next("get_room");
    const reqB = await sock.next("history");
    sock.push({ t: "history_page", id: reqB.id, room: 1, messages: [], has_more: false });
    sock.push({ t: "error", id: reqA.id, code: "not_found", message: "room 1 does not exist" });
    await expect(b).resolves.toMatchObject({ t: "history_page", has_more: false });
    const err = await a.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChatError);
    expect(err).toMatchObject({ code: "not_found" });
    client.stop();
  });

  it("hands pushes to onPush and times out unanswered requests", async () => {
    const { socks, client, pushes } = setup();
    client.start();
    const sock = await socks.nth(0);
    await welcome(sock);
    sock.push({ t: "msgs", backlog: true, messages: [{ room: 1, seq: 1, ts: 1, kind: "system", event: { type: "created" } }] });
    expect(pushes[0]).toMatchObject({ t: "msgs", backlog: true });
    await expect(client.request("list_rooms", {})).rejects.toMatchObject({ code: "timeout" });
    client.notify("ack", { room: 1, seq: 1 });
    expect(await sock.next("ack")).toEqual({ t: "ack", room: 1, seq: 1 });
    client.stop();
  });

  it("reconnects after a drop and says hello again", async () => {
    const { socks, client } = setup(new Map([[3, 9]]));
    client.start();
    const first = await socks.nth(0);
    await welcome(first);
    const pending = client.request("list_rooms", {});
    await first.next("list_rooms");
    first.close(1012, "reconnect");
    await expect(pending).rejects.toMatchObject({ code: "offline" });
    const second = await socks.nth(1);
    const hello = await welcome(second);
    expect(hello.cursors).toEqual({ "#3": 9 });
    await client.ready();
    client.stop();
  });

  it("signs out, without reconnecting, when the server closes with 4010 (this device was logged out)", async () => {
    const { socks, client, signedOut } = setup();
    client.start();
    const sock = await socks.nth(0);
    await welcome(sock);
    sock.close(4010, "signed out from another device");
    await new Promise((r) => setTimeout(r, 30));
    expect(signedOut).toEqual(["device"]);
    expect(socks.sockets.length).toBe(1);
  });

  it("says the account is gone when the server closes with 4003", async () => {
    const { socks, client, signedOut } = setup();
    client.start();
    const sock = await socks.nth(0);
    await welcome(sock);
    sock.close(4003, "account deleted");
    await new Promise((r) => setTimeout(r, 30));
    expect(signedOut).toEqual(["account"]);
    expect(socks.sockets.length).toBe(1);
  });

  it("refreshes the token when hello is refused as unauthorized", async () => {
    const { socks, client } = setup();
    client.start();
    const sock = await socks.nth(0);
    const first = await sock.next("hello");
    sock.push({ t: "error", id: first.id, code: "unauthorized", message: "token expired" });
    const second = await sock.next("hello", 1);
    expect(second.token).toBe("tok2");
    sock.push({ t: "welcome", id: second.id, version: 1, user_id: 5, username: "ann", max_frame_bytes: 65536 });
    await client.ready();
    client.stop();
  });

  it("says it is offline while it cannot connect, and tries again at once when the network is back", async () => {
    const socks = fakeSockets();
    const states: string[] = [];
    let network = false; // the browser is offline: /api/config cannot be fetched
    const client = new ChatClient({
      url: async () => { if (!network) throw new TypeError("Failed to fetch"); return "ws://test/"; },
      tokens, cursors: async () => new Map(), onPush: () => undefined, onState: (s) => states.push(s),
      socketFactory: socks.factory, backoff: () => 60_000, // a try the test would never live to see
    });
    client.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(states, "one failed try may be a blip").toEqual(["connecting"]);
    client.reconnectNow(); // still no network: the retry fails too
    for (let i = 0; i < 100 && states.at(-1) !== "offline"; i++) await new Promise((r) => setTimeout(r, 5));
    expect(states).toEqual(["connecting", "offline"]);
    client.reconnectNow(); // and it stays offline while it tries (no "connecting" flicker), without a socket
    await new Promise((r) => setTimeout(r, 50));
    expect(states).toEqual(["connecting", "offline"]);
    network = true;
    client.reconnectNow();
    await welcome(await socks.nth(0));
    await client.ready();
    expect(states.at(-1)).toBe("online");
    expect(socks.sockets).toHaveLength(1);
    client.stop();
  });

  it("pings when the connection is quiet, and keeps it while pings are answered", async () => {
    const { socks, client } = setup(undefined, { heartbeatMs: 40, pingTimeoutMs: 200 });
    client.start();
    const sock = await socks.nth(0);
    await welcome(sock);
    for (const n of [0, 1]) {
      const ping = await sock.next("ping", n);
      sock.push({ t: "ok", id: ping.id });
    }
    expect(socks.sockets).toHaveLength(1);
    expect(client.connState).toBe("online");
    client.stop();
  });

  it("takes an unanswered ping for a dead connection: drops it and reconnects", async () => {
    const { socks, client, states } = setup(undefined, { heartbeatMs: 30, pingTimeoutMs: 40 });
    client.start();
    const first = await socks.nth(0);
    await welcome(first);
    const pending = client.request("list_rooms", {}, 5_000);
    await first.next("ping"); // never answered, and no close comes
    await expect(pending).rejects.toMatchObject({ code: "offline" });
    expect(first.readyState).toBe(3); // closed by the client
    const second = await socks.nth(1);
    await welcome(second);
    await client.ready();
    expect(states.slice(-3)).toEqual(["online", "connecting", "online"]);
    client.stop();
  });

  it("connects at once when the network is back instead of waiting out the back-off", async () => {
    const { socks, client } = setup(undefined, { backoff: () => 60_000 });
    client.start();
    const first = await socks.nth(0);
    await welcome(first);
    client.reconnect("the browser is offline");
    expect(client.connState).toBe("connecting");
    await new Promise((r) => setTimeout(r, 30));
    expect(socks.sockets).toHaveLength(1); // back-off: a minute
    client.reconnectNow();
    await welcome(await socks.nth(1));
    await client.ready();
    client.reconnectNow(); // already connected: nothing
    expect(socks.sockets).toHaveLength(2);
    client.stop();
  });

  it("tells a disabled account (close 4003) from a deleted one, and stops", async () => {
    for (const [reason, expected] of [["account disabled", "disabled"], ["account deleted", "account"]] as const) {
      const { socks, client, signedOut } = setup();
      client.start();
      const sock = await socks.nth(0);
      await welcome(sock);
      sock.close(4003, reason);
      expect(signedOut).toEqual([expected]);
      await new Promise((r) => setTimeout(r, 30));
      expect(socks.sockets).toHaveLength(1); // no reconnect loop
    }
  });
});
