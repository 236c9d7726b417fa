// Signed media URLs for <img>, <video>, <audio> and download links: no token ever goes in a URL. The ids
// a screen needs are asked for together (one GET /api/media/links per 100), and a link is used until
// shortly before it expires. The server rounds expiry to a period, so a re-signed link is usually the same
// URL and the browser's cache still answers.
import type { SignedLinks } from "./http";

export type Signer = (ids: string[]) => Promise<SignedLinks>;

const BATCH = 100; // the server's limit per request
const MARGIN_MS = 10_000; // a link this close to its expiry is not handed out any more
const RETRY_MS = 3_000; // after a failed request

export class MediaLinks {
  private links = new Map<string, { url: string; expiresMs: number }>();
  private wanted = new Set<string>();
  private asked = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<() => void>();

  constructor(private readonly sign: Signer, private readonly now: () => number = Date.now) {}

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** The live URL for `id`, if one is known (pure: use `want` to have one fetched). */
  peek = (id: string): string | undefined => {
    const link = this.links.get(id);
    return link && link.expiresMs - this.now() > MARGIN_MS ? link.url : undefined;
  };

  /** Ask for a link for `id`, batched with whatever else is wanted in the same tick. */
  want(id: string): void {
    if (this.peek(id) || this.asked.has(id)) return;
    this.wanted.add(id);
    this.timer ??= setTimeout(() => void this.flush(), 0);
  }

  /** A link that failed to load (expired while a video played, say): drop it so the next `want` re-signs. */
  invalidate(id: string): void {
    if (this.links.delete(id)) this.listeners.forEach((l) => l());
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const ids = [...this.wanted];
    this.wanted.clear();
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      batch.forEach((id) => this.asked.add(id));
      try {
        const got = await this.sign(batch);
        for (const [id, url] of Object.entries(got.links)) this.links.set(id, { url, expiresMs: got.expires * 1000 });
      } catch {
        setTimeout(() => batch.forEach((id) => this.want(id)), RETRY_MS); // offline: try again later
      } finally {
        batch.forEach((id) => this.asked.delete(id));
      }
    }
    this.listeners.forEach((l) => l());
  }
}
