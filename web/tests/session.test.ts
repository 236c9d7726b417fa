import "fake-indexeddb/auto";
import { beforeEach, describe, expect, it } from "vitest";
import { Cache } from "../src/store/cache";
import { ChatError } from "../src/protocol/client";
import { loadWho, onOtherTabSignedOut, SessionTokens, signOut, wipeLocalData, type SignOutReason } from "../src/session";
import type { WebAuthOk } from "../src/http";
import { SHELL_CACHE_PREFIX } from "../src/swNames";

/** A Map-backed Storage (the test environment is node, which has none). */
class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length() { return this.m.size; }
  clear() { this.m.clear(); }
  getItem(k: string) { return this.m.get(k) ?? null; }
  key(i: number) { return [...this.m.keys()][i] ?? null; }
  removeItem(k: string) { this.m.delete(k); }
  setItem(k: string, v: string) { this.m.set(k, String(v)); }
}

const g = globalThis as unknown as Record<string, unknown>;
const ok = (n: number): WebAuthOk => ({ user_id: 5, username: "ann", access_token: `access-${n}`, expires_in: 900 });
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** What navigator.locks gives across tabs: one holder of a name at a time, the rest queue. */
function sharedLock() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(_name: string, fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

beforeEach(() => {
  g.localStorage = new MemoryStorage();
  g.sessionStorage = new MemoryStorage();
});

describe("session tokens", () => {
  it("keeps no token in localStorage and moves an old client's refresh token to the server once", async () => {
    localStorage.setItem("chatd.auth", JSON.stringify({ userId: 5, username: "ann", access: "a", refresh: "old-refresh", expiresAt: 0 }));
    expect(loadWho()).toEqual({ userId: 5, username: "ann" });
    expect(localStorage.getItem("chatd.auth")).toBeNull(); // out of script reach from now on
    const seen: (string | undefined)[] = [];
    const tokens = new SessionTokens(async (legacy) => (seen.push(legacy), ok(seen.length)), sharedLock());
    expect(await tokens.access()).toBe("access-1");
    expect(await tokens.refresh()).toBe("access-2");
    expect(seen).toEqual(["old-refresh", undefined]); // then the cookie alone
    for (let i = 0; i < localStorage.length; i++) expect(localStorage.getItem(localStorage.key(i)!)).not.toMatch(/access-|refresh/);
  });

  it("refreshes once per tab, and one tab at a time across tabs", async () => {
    const lock = sharedLock();
    let running = 0, most = 0, calls = 0;
    const refresh = async () => {
      calls++;
      most = Math.max(most, ++running);
      await tick(10);
      running--;
      return ok(calls);
    };
    const tabA = new SessionTokens(refresh, lock), tabB = new SessionTokens(refresh, lock);
    const got = await Promise.all([tabA.refresh(), tabA.refresh(), tabB.refresh(), tabB.refresh()]);
    expect(calls).toBe(2); // one per tab
    expect(most).toBe(1); // never two refreshes (two spends of the cookie) at once
    expect(new Set(got).size).toBe(2);
  });

  it("an unauthorized refresh signs out; a network error does not", async () => {
    localStorage.setItem("chatd.who", JSON.stringify({ userId: 5, username: "ann" }));
    const offline = new SessionTokens(async () => { throw new ChatError("network", "down"); }, sharedLock());
    await expect(offline.refresh()).rejects.toThrow("down");
    expect(loadWho()).not.toBeNull();
    const revoked = new SessionTokens(async () => { throw new ChatError("unauthorized", "revoked"); }, sharedLock());
    expect(await revoked.refresh()).toBeNull();
    expect(loadWho()).toBeNull();
  });
});

describe("logout wipe", () => {
  it("deletes every account's IndexedDB cache, even one another tab holds open, the app's storage keys and Cache Storage but the app shell", async () => {
    const open = await Cache.open("chatd-5"); // another tab still shows the chat
    await open.putMessages([{ room: 1, seq: 1, ts: 1, kind: "text", sender: 2, body: "private" }]);
    (await Cache.open("chatd-6")).close(); // an earlier user of this computer
    (await Cache.open("unrelated")).close();
    localStorage.setItem("chatd.who", "{}");
    localStorage.setItem("chatd.readReceipts", "on");
    localStorage.setItem("someone-else", "kept");
    sessionStorage.setItem("chatd.x", "1");
    const shell = `${SHELL_CACHE_PREFIX}-precache-v2-http://chat.example/`; // public build files: start offline
    const store = new Map([["sw-v1", 1], [shell, 1]]);
    g.caches = { keys: async () => [...store.keys()], delete: async (k: string) => store.delete(k) };
    await wipeLocalData(["chatd-5"]);
    const names = (await indexedDB.databases()).map((d) => d.name);
    expect(names.filter((n) => n?.startsWith("chatd-"))).toEqual([]);
    expect(names).toContain("unrelated");
    expect([localStorage.length, localStorage.getItem("someone-else"), sessionStorage.length]).toEqual([1, "kept", 0]);
    expect([...store.keys()]).toEqual([shell]);
    delete g.caches;
  });
});

describe("signing out", () => {
  it("a wipe that meets a blocked delete or refusing APIs still finishes and wipes the rest", async () => {
    const held = await new Promise<IDBDatabase>((resolve) => { // a tab that never closes its cache
      const req = indexedDB.open("chatd-9");
      req.onsuccess = () => resolve(req.result);
    });
    localStorage.setItem("chatd.who", "{}");
    // eslint-disable-next-line @typescript-eslint/unbound-method -- only put back on indexedDB (finally below)
    const databases = indexedDB.databases;
    indexedDB.databases = async () => { throw new Error("not allowed"); };
    const deleted: string[] = [];
    g.caches = { keys: async () => ["sw-v1", "sw-v2"], delete: async (k: string) => { if (k === "sw-v1") throw new Error("no"); deleted.push(k); } };
    try {
      const started = Date.now();
      await wipeLocalData(["chatd-9"], 50);
      expect(Date.now() - started).toBeLessThan(1_000); // gave up waiting for the other tab
      expect(localStorage.getItem("chatd.who")).toBeNull();
      expect(deleted).toEqual(["sw-v2"]);
      g.caches = { keys: async () => { throw new Error("no"); }, delete: async () => true };
      await wipeLocalData([], 50); // refused outright: still done
    } finally {
      indexedDB.databases = databases;
      held.close();
      delete g.caches;
    }
  });

  it("a remote sign-out tells the other tabs why and wipes this browser's copies, without a logout request", async () => {
    const cache = await Cache.open("chatd-5");
    await cache.putMessages([{ room: 1, seq: 1, ts: 1, kind: "text", sender: 2, body: "private" }]);
    cache.close(); // the store was stopped first
    localStorage.setItem("chatd.who", JSON.stringify({ userId: 5, username: "ann" }));
    const requests: string[] = [];
    const realFetch = g.fetch;
    g.fetch = async (url: string) => (requests.push(url), new Response("{}"));
    const heard: SignOutReason[] = [];
    const stopListening = onOtherTabSignedOut((r) => heard.push(r)); // another tab
    try {
      await signOut("device", ["chatd-5"]);
      await tick(20);
      expect(heard).toEqual(["device"]);
      expect(loadWho()).toBeNull();
      expect((await indexedDB.databases()).map((d) => d.name)).not.toContain("chatd-5");
      expect(requests).toEqual([]);
      await signOut("logout", []); // our own logout also revokes this device on the server
      expect(requests).toEqual(["/api/auth/logout"]);
    } finally {
      stopListening();
      g.fetch = realFetch;
    }
  });
});
