// Pictures shared to the installed app from another app (the service worker's share target, src/sw/share.ts).
import { SHARE_CACHE, SHARED_PAGE } from "./swNames";

/** Was this page opened by a share (the worker redirects to SHARED_PAGE)? */
export const openedByShare = (search: string): boolean => search === SHARED_PAGE.slice(SHARED_PAGE.indexOf("?"));

/** The shared pictures the worker kept, in the order they were shared (none when there are none). */
export async function sharedFiles(): Promise<File[]> {
  if (typeof caches === "undefined" || !(await caches.has(SHARE_CACHE))) return [];
  const cache = await caches.open(SHARE_CACHE);
  const files: File[] = [];
  for (const request of await cache.keys()) {
    const res = await cache.match(request);
    if (!res) continue;
    const name = decodeURIComponent(res.headers.get("X-File-Name") ?? "shared");
    files.push(new File([await res.blob()], name, { type: res.headers.get("Content-Type") ?? "" }));
  }
  return files;
}

/** Sent or cancelled: the pictures are not kept. */
export async function dropSharedFiles(): Promise<void> {
  if (typeof caches !== "undefined") await caches.delete(SHARE_CACHE);
}
