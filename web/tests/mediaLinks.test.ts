import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatError } from "../src/protocol/client";
import { MediaLinks, ShownLink } from "../src/mediaLinks";
import type { SignedLinks } from "../src/http";

const TTL = 300;

/** A server whose clock is `skewMs` behind this device's; each signing period gives new URLs. */
function server(skewMs = 0) {
  const asked: string[][] = [];
  let fail: Error | null = null;
  const sign = async (ids: string[]): Promise<SignedLinks> => {
    asked.push(ids);
    if (fail) throw fail;
    const now = (Date.now() - skewMs) / 1000;
    const expires = (Math.floor(now / TTL) + 2) * TTL;
    return { expires, expires_in: Math.floor(expires - now), links: Object.fromEntries(ids.map((id) => [id, `/api/media/${id}?exp=${expires}`])) };
  };
  return { asked, sign, failWith: (err: Error | null) => (fail = err) };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000_000_000);
});
afterEach(() => vi.useRealTimers());

describe("media links", () => {
  it("asks for all the ids a screen needs in batches of 100, once each", async () => {
    const srv = server();
    const links = new MediaLinks(srv.sign);
    let changes = 0;
    links.subscribe(() => changes++);
    const ids = Array.from({ length: 150 }, (_, i) => `id${i}`);
    ids.forEach((id) => links.use(id));
    ids.forEach((id) => links.use(id)); // shown twice costs nothing
    await vi.advanceTimersByTimeAsync(0);
    expect(srv.asked.map((a) => a.length)).toEqual([100, 50]);
    expect(links.peek("id7")).toMatch(/^\/api\/media\/id7\?exp=/);
    expect(changes).toBeGreaterThan(0);
  });

  it("times expiry by the server's expires_in, so a wrong device clock still shows media", async () => {
    for (const skewMs of [3_600_000, -3_600_000]) { // this device an hour ahead, then an hour behind
      const links = new MediaLinks(server(skewMs).sign);
      links.use("a");
      await vi.advanceTimersByTimeAsync(0);
      expect(links.peek("a")).toBeDefined();
      links.dispose();
    }
  });

  it("re-signs what is still on screen before it expires, and only that", async () => {
    const srv = server();
    const links = new MediaLinks(srv.sign);
    links.use("kept");
    const release = links.use("gone");
    await vi.advanceTimersByTimeAsync(0);
    release();
    const first = links.peek("kept");
    await vi.advanceTimersByTimeAsync(20 * 60_000); // a long-open page
    expect(srv.asked.length).toBeGreaterThanOrEqual(3);
    expect(srv.asked.slice(1).every((a) => a.length === 1 && a[0] === "kept")).toBe(true);
    expect(links.peek("kept")).toBeDefined();
    expect(links.peek("kept")).not.toBe(first);
    expect(links.peek("gone")).toBeUndefined();
  });

  it("an element keeps its URL until it fails to load, then retries once until a load succeeds", async () => {
    const srv = server();
    const links = new MediaLinks(srv.sign);
    links.use("v");
    const shown = new ShownLink(links, "v");
    expect(shown.url()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(0);
    const first = shown.url();
    expect(first).toBeDefined();
    await vi.advanceTimersByTimeAsync(15 * 60_000); // re-signed meanwhile: a playing video is not restarted
    expect(links.peek("v")).not.toBe(first);
    expect(shown.url()).toBe(first);
    expect(shown.failed()).toBe(true); // the old link expired mid-play: the fresh one
    expect(shown.url()).toBe(links.peek("v"));
    expect(shown.failed()).toBe(false); // failed again: the item itself, not retried forever
    shown.loaded();
    expect(shown.failed()).toBe(true); // a later failure after a good load gets its retry again
  });

  it("signs a fresh link on demand (a download link clicked after the laptop slept)", async () => {
    const srv = server();
    const links = new MediaLinks(srv.sign);
    links.use("doc");
    await vi.advanceTimersByTimeAsync(0);
    vi.setSystemTime(Date.now() + 3_600_000); // timers did not run while asleep
    expect(links.peek("doc")).toBeUndefined();
    const url = await links.fresh("doc");
    expect(url).toBeDefined();
    expect(url).toBe(links.peek("doc"));
  });

  it("backs off while signing fails, stops when unauthorized, and nothing runs after dispose", async () => {
    const srv = server();
    srv.failWith(new ChatError("offline", "down"));
    const links = new MediaLinks(srv.sign);
    links.use("a");
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(3_000 + 6_000 + 12_000 + 10);
    expect(srv.asked.length).toBe(4); // at 0, 3, 9 and 21 s: doubling
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(srv.asked.length).toBeLessThan(20); // capped at 5 min apart, not every 3 s
    srv.failWith(new ChatError("unauthorized", "signed out"));
    await vi.advanceTimersByTimeAsync(300_000);
    const n = srv.asked.length;
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(srv.asked.length).toBe(n); // signed out: no more requests
    expect(vi.getTimerCount()).toBe(0);

    const other = new MediaLinks(server().sign);
    other.use("b");
    await vi.advanceTimersByTimeAsync(0);
    other.dispose(); // unmounted or signed out
    expect(vi.getTimerCount()).toBe(0);
  });
});
