// Who is signed in and the access token. The refresh token is an HttpOnly cookie the server sets for
// /api/auth/ only, so no script (an injected one included) can read it. The access token lives in this
// tab's memory; localStorage keeps only who is signed in, so the cached conversations show at once.
// Refreshes take a cross-tab lock (two tabs refreshing at once would both spend the same cookie; the server
// tolerates that too, answering both with the same successor). Logout wipes what this origin stored.
import type { Tokens } from "./protocol/client";
import * as http from "./http";

export interface Who {
  userId: number;
  username: string;
}

const WHO = "chatd.who";
const LEGACY = "chatd.auth"; // older clients kept both tokens here
const PREFIX = "chatd."; // every localStorage/sessionStorage key the app sets
const DB_PREFIX = "chatd-"; // the IndexedDB caches, one per account
export const LOCK = "chatd.refresh";

let access: { token: string; expiresAt: number } | null = null;
let legacyRefresh: string | null = null;

function storage(): Storage | null {
  return typeof localStorage === "undefined" ? null : localStorage;
}

/** Who is signed in on this browser (not a secret); moves an older client's stored tokens out of reach. */
export function loadWho(): Who | null {
  const ls = storage();
  if (!ls) return null;
  try {
    const old = ls.getItem(LEGACY);
    if (old) {
      ls.removeItem(LEGACY); // the refresh token must not stay where scripts can read it
      const parsed = JSON.parse(old) as { userId: number; username: string; refresh?: string };
      legacyRefresh = parsed.refresh ?? null; // handed to the server once, which moves it into the cookie
      ls.setItem(WHO, JSON.stringify({ userId: parsed.userId, username: parsed.username }));
    }
    const raw = ls.getItem(WHO);
    return raw ? (JSON.parse(raw) as Who) : null;
  } catch {
    return null;
  }
}

/** Take a login, signup or refresh answer: the access token to memory, who it is to localStorage. */
export function adopt(ok: http.WebAuthOk): Who {
  access = { token: ok.access_token, expiresAt: Date.now() + ok.expires_in * 1000 };
  const who = { userId: ok.user_id, username: ok.username };
  storage()?.setItem(WHO, JSON.stringify(who));
  return who;
}

/** Run `fn` while no other tab of this origin runs it (Web Locks); alone where the API is missing. */
export function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  return locks ? (locks.request(name, fn) as Promise<T>) : fn();
}

export class SessionTokens implements Tokens {
  private inflight: Promise<string | null> | null = null;

  constructor(
    private readonly refreshFn: (legacy?: string) => Promise<http.WebAuthOk> = http.refresh,
    private readonly lock: <T>(name: string, fn: () => Promise<T>) => Promise<T> = withLock,
  ) {}

  expiresAt(): number {
    return access?.expiresAt ?? 0;
  }

  async access(): Promise<string | null> {
    if (access && access.expiresAt - Date.now() > 30_000) return access.token;
    return this.refresh();
  }

  /** One refresh at a time in this tab, and across tabs through the lock. */
  refresh(): Promise<string | null> {
    this.inflight ??= this.lock(LOCK, () => this.doRefresh()).finally(() => (this.inflight = null));
    return this.inflight;
  }

  private async doRefresh(): Promise<string | null> {
    try {
      const ok = await this.refreshFn(legacyRefresh ?? undefined);
      legacyRefresh = null;
      adopt(ok);
      return ok.access_token;
    } catch (err) {
      if ((err as { code?: string }).code === "unauthorized") {
        access = null;
        legacyRefresh = null;
        storage()?.removeItem(WHO);
        return null;
      }
      throw err;
    }
  }
}

/** The tab's session (App, uploads, push and media links share it). */
export const session = new SessionTokens();

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = () => resolve();
    // blocked: another tab still has it open; it closes on `versionchange` (store/cache.ts) and this goes on
  });
}

/** Forget everything this origin stored for the app: the access token, localStorage and sessionStorage
 * keys, the IndexedDB caches (every account's: on a shared computer an earlier user's is just as private)
 * and the Cache Storage of the service worker. Close the open cache first (ChatStore.stop). */
export async function wipeLocalData(known: string[] = []): Promise<void> {
  access = null;
  legacyRefresh = null;
  for (const store of [storage(), typeof sessionStorage === "undefined" ? null : sessionStorage]) {
    if (!store) continue;
    const keys = Array.from({ length: store.length }, (_, i) => store.key(i)).filter((k): k is string => !!k);
    for (const k of keys) if (k.startsWith(PREFIX)) store.removeItem(k);
  }
  if (typeof indexedDB !== "undefined") {
    const listed = typeof indexedDB.databases === "function"
      ? (await indexedDB.databases()).map((d) => d.name ?? "").filter((n) => n.startsWith(DB_PREFIX)) : [];
    await Promise.all([...new Set([...listed, ...known])].map(deleteDatabase));
  }
  if (typeof caches !== "undefined") {
    await Promise.all((await caches.keys()).map((k) => caches.delete(k)));
  }
}

/** Log out: revoke this device and clear the cookie (server), then wipe this browser's copies. */
export async function logout(known: string[]): Promise<void> {
  await http.logout().catch(() => undefined); // offline: the local wipe still happens
  await wipeLocalData(known);
}

export const cacheName = (userId: number) => `${DB_PREFIX}${userId}`;
