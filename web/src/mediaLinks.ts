// Signed media URLs for <img>, <video>, <audio> and download links: no token ever goes in a URL. The ids
// on screen are asked for together (one GET /api/media/links per 100) and re-signed shortly before they
// expire for as long as something shows them. Expiry is timed with the server's `expires_in` from when the
// answer arrived, so a device whose clock is off still shows media. The server rounds expiry to a period,
// so a re-signed link is usually the same URL and the browser's cache still answers.
import type { SignedLinks } from "./http";

export type Signer = (ids: string[]) => Promise<SignedLinks>;

const BATCH = 100; // the server's limit per request
const MARGIN_MS = 30_000; // a link this close to its expiry is re-signed, and not handed out any more
const RETRY_MS = 3_000; // after a failed request, doubling per failure in a row...
const RETRY_MAX_MS = 300_000; // ...up to this

export class MediaLinks {
  private links = new Map<string, { url: string; expiresMs: number }>();
  private users = new Map<string, number>(); // ids on screen: how many elements show each
  private wanted = new Set<string>();
  private asked = new Set<string>();
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private flushing = false;
  private renewAt = Infinity;
  private failures = 0;
  private disposed = false;
  private listeners = new Set<() => void>();

  constructor(private readonly sign: Signer, private readonly now: () => number = Date.now) {}

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** The live URL for `id`, if one is known (pure: `use` has one fetched and kept fresh). */
  peek = (id: string): string | undefined => {
    const link = this.links.get(id);
    return link && link.expiresMs - this.now() > MARGIN_MS ? link.url : undefined;
  };

  /** An element shows `id`: have a link signed, and re-signed before it expires, until the returned release. */
  use(id: string): () => void {
    this.users.set(id, (this.users.get(id) ?? 0) + 1);
    this.want(id);
    return () => {
      const n = (this.users.get(id) ?? 1) - 1;
      if (n > 0) this.users.set(id, n);
      else this.users.delete(id);
    };
  }

  /** A live link for `id` now, signing one if needed (a download link being clicked). */
  async fresh(id: string): Promise<string | undefined> {
    if (!this.peek(id) && !this.disposed) await this.request([id]);
    return this.peek(id);
  }

  /** `url` failed to load (it expired while a video played, say): drop it and sign `id` again. */
  invalidate(id: string, url?: string): void {
    if (url === undefined || this.links.get(id)?.url === url) this.links.delete(id);
    this.want(id);
    this.notify();
  }

  /** Stop for good (signed out, or the page is done): no more requests or timers. */
  dispose(): void {
    this.disposed = true;
    this.timers.forEach(clearTimeout);
    this.timers.clear();
    this.wanted.clear();
  }

  private want(id: string): void {
    if (this.disposed || this.peek(id) || this.asked.has(id)) return;
    this.wanted.add(id);
    if (!this.flushing) {
      this.flushing = true;
      this.after(0, () => void this.flush());
    }
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async flush(): Promise<void> {
    this.flushing = false;
    const ids = [...this.wanted];
    this.wanted.clear();
    for (let i = 0; i < ids.length && !this.disposed; i += BATCH) await this.request(ids.slice(i, i + BATCH));
    this.notify();
  }

  private async request(batch: string[]): Promise<void> {
    batch.forEach((id) => this.asked.add(id));
    try {
      const got = await this.sign(batch);
      const expiresMs = this.now() + got.expires_in * 1000; // the server's lifetime on this clock
      for (const [id, url] of Object.entries(got.links)) this.links.set(id, { url, expiresMs });
      this.failures = 0;
      this.scheduleRenew(expiresMs);
    } catch (err) {
      if ((err as { code?: string }).code === "unauthorized") return this.dispose(); // signed out
      const ms = Math.min(RETRY_MAX_MS, RETRY_MS * 2 ** this.failures++);
      this.after(ms, () => batch.filter((id) => this.users.has(id)).forEach((id) => this.want(id))); // offline
    } finally {
      batch.forEach((id) => this.asked.delete(id));
    }
  }

  /** One timer, shortly before the earliest link expires, re-signs the ids still on screen. */
  private scheduleRenew(expiresMs: number): void {
    const at = expiresMs - MARGIN_MS;
    if (this.disposed || at >= this.renewAt) return;
    this.renewAt = at;
    this.after(Math.max(1_000, at - this.now()), () => {
      this.renewAt = Infinity;
      for (const id of this.users.keys()) this.want(id);
      // links not due yet (want skipped them) get the next timer; the ones asked for get one when signed
      const later = [...this.users.keys()].filter((id) => this.peek(id)).map((id) => this.links.get(id)!.expiresMs);
      if (later.length) this.scheduleRenew(Math.min(...later));
    });
  }

  private notify(): void {
    this.listeners.forEach((l) => l());
  }
}

/** One element's link: it keeps the URL it was given until that fails to load (swapping the src of a
 * playing video would restart it), then takes a fresh one, once; a successful load allows a retry again. */
export class ShownLink {
  private pinned: string | undefined;
  private retried = false;

  constructor(private readonly links: MediaLinks, private readonly id: string) {}

  url = (): string | undefined => (this.pinned ??= this.links.peek(this.id));

  /** The element failed to load: false if it already had its retry (the item itself is gone, say). */
  failed = (): boolean => {
    if (this.retried) return false;
    this.retried = true;
    const bad = this.pinned;
    this.pinned = undefined;
    this.links.invalidate(this.id, bad);
    return true;
  };

  loaded = (): void => {
    this.retried = false;
  };
}
