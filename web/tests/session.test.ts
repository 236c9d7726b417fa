import "fake-indexeddb/auto";
import { beforeEach, describe, expect, it } from "vitest";
import { Cache } from "../src/store/cache";
import { ChatError } from "../src/protocol/client";
import { loadWho, SessionTokens, wipeLocalData } from "../src/session";
import { MediaLinks } from "../src/mediaLinks";
import type { WebAuthOk } from "../src/http";

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
  it("deletes every account's IndexedDB cache, even one another tab holds open, the app's storage keys and Cache Storage", async () => {
    const open = await Cache.open("chatd-5"); // another tab still shows the chat
    await open.putMessages([{ room: 1, seq: 1, ts: 1, kind: "text", sender: 2, body: "private" }]);
    (await Cache.open("chatd-6")).close(); // an earlier user of this computer
    (await Cache.open("unrelated")).close();
    localStorage.setItem("chatd.who", "{}");
    localStorage.setItem("chatd.readReceipts", "on");
    localStorage.setItem("someone-else", "kept");
    sessionStorage.setItem("chatd.x", "1");
    const store = new Map([["sw-v1", 1]]);
    g.caches = { keys: async () => [...store.keys()], delete: async (k: string) => store.delete(k) };
    await wipeLocalData(["chatd-5"]);
    const names = (await indexedDB.databases()).map((d) => d.name);
    expect(names.filter((n) => n?.startsWith("chatd-"))).toEqual([]);
    expect(names).toContain("unrelated");
    expect([localStorage.length, localStorage.getItem("someone-else"), sessionStorage.length]).toEqual([1, "kept", 0]);
    expect(store.size).toBe(0);
    delete g.caches;
  });
});

describe("media links", () => {
  it("asks for all the ids a screen needs in batches of 100 and hands out only live links", async () => {
    let now = 1_000_000_000_000;
    const asked: string[][] = [];
    const links = new MediaLinks(async (ids) => {
      asked.push(ids);
      return { expires: now / 1000 + 300, links: Object.fromEntries(ids.map((id) => [id, `/api/media/${id}?u=5&exp=1&sig=x`])) };
    }, () => now);
    let changes = 0;
    links.subscribe(() => changes++);
    const ids = Array.from({ length: 150 }, (_, i) => `id${i}`);
    ids.forEach((id) => links.want(id));
    ids.forEach((id) => links.want(id)); // asking twice costs nothing
    await tick();
    expect(asked.map((a) => a.length)).toEqual([100, 50]);
    expect(links.peek("id7")).toBe("/api/media/id7?u=5&exp=1&sig=x");
    expect(links.peek("id7")).not.toContain("token");
    expect(changes).toBeGreaterThan(0);
    links.want("id7"); // live: not asked again
    await tick();
    expect(asked.length).toBe(2);
    now += 295_000; // about to expire: not handed out, asked for again
    expect(links.peek("id7")).toBeUndefined();
    links.want("id7");
    await tick();
    expect(asked.at(-1)).toEqual(["id7"]);
  });
});
