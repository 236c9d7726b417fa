// Who is signed in and the access token. The refresh token is an HttpOnly cookie the server sets for
// /api/auth/ only, so no script (an injected one included) can read it. The access token lives in this
// tab's memory; localStorage keeps only who is signed in, so the cached conversations show at once.
// Refreshes take a cross-tab lock (two tabs refreshing at once would both spend the same cookie; the server
// tolerates that too, answering both with the same successor). Every sign-out wipes what this origin stored.
import type { SignedOutReason, Tokens } from "./protocol/client";
import * as http from "./http";
import { SHELL_CACHE_PREFIX } from "./swNames";

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

/** Why the session ended: the login screen says so. */
export type SignOutReason = "logout" | "deleted" | SignedOutReason;

export const SIGN_OUT_MESSAGE: Record<SignOutReason, string | null> = {
  logout: null,
  deleted: "Your account was deleted.",
  device: "You were signed out on this device from another session.",
  account: "This account was deleted or disabled.",
  disabled: "This account was disabled by an administrator, so it cannot sign in. Ask them to enable it again.",
  refused: "Your session has ended. Please log in again.",
};

const CHANNEL = "chatd"; // this browser's other tabs hear of a sign-out here

/** Call `fn` when another tab of this browser signs out (it wipes; this tab only stops and shows why). */
export function onOtherTabSignedOut(fn: (reason: SignOutReason) => void): () => void {
  if (typeof BroadcastChannel === "undefined") return () => undefined;
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (e: MessageEvent<{ signedOut?: SignOutReason }>) => {
    if (e.data?.signedOut) fn(e.data.signedOut);
  };
  return () => channel.close();
}

/** The one way out, whatever the reason (our logout, this device signed out elsewhere, the account gone, a
 * refused refresh). Stop the store and show the login screen first; this tells the other tabs, revokes
 * this device on a logout of our own, and wipes this browser's copies (the lost-laptop case). */
export async function signOut(reason: SignOutReason, known: string[], giveUpMs?: number): Promise<void> {
  if (typeof BroadcastChannel !== "undefined") {
    const channel = new BroadcastChannel(CHANNEL);
    channel.postMessage({ signedOut: reason });
    channel.close();
  }
  const revoke = reason === "logout" || reason === "deleted" ? http.logout().catch(() => undefined) : null; // offline: wipe still
  await Promise.all([revoke, wipeLocalData(known, giveUpMs)]); // the wipe's storage part runs at once
}

/** Delete one IndexedDB database; `giveUpMs` later we stop waiting if another tab keeps it open (the delete
 * stays queued and happens when that tab closes it). */
function deleteDatabase(name: string, giveUpMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, giveUpMs);
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

/** Run one part of the wipe; a part that fails must not keep the others from running. */
async function attempt(part: () => Promise<unknown>): Promise<void> {
  try {
    await part();
  } catch {
    // e.g. indexedDB.databases() or caches.keys() refused in a private window: wipe the rest
  }
}

/** Forget everything this origin stored for the app: the access token, localStorage and sessionStorage
 * keys, the IndexedDB caches (every account's: on a shared computer an earlier user's is just as private)
 * and the Cache Storage, but for the service worker's app shell (public build files: the app must still start
 * offline). Close the open cache first (ChatStore.stop). */
export async function wipeLocalData(known: string[] = [], giveUpMs = 3_000): Promise<void> {
  access = null;
  legacyRefresh = null;
  for (const store of [storage(), typeof sessionStorage === "undefined" ? null : sessionStorage]) {
    if (!store) continue;
    const keys = Array.from({ length: store.length }, (_, i) => store.key(i)).filter((k): k is string => !!k);
    for (const k of keys) if (k.startsWith(PREFIX)) store.removeItem(k);
  }
  if (typeof indexedDB !== "undefined") {
    const names = new Set(known);
    await attempt(async () => {
      for (const d of await indexedDB.databases()) if (d.name?.startsWith(DB_PREFIX)) names.add(d.name);
    });
    await Promise.all([...names].map((n) => attempt(() => deleteDatabase(n, giveUpMs))));
  }
  if (typeof caches !== "undefined") {
    await attempt(async () => Promise.all((await caches.keys()).filter((k) => !k.startsWith(SHELL_CACHE_PREFIX))
      .map((k) => attempt(() => caches.delete(k)))));
  }
}

export const cacheName = (userId: number) => `${DB_PREFIX}${userId}`;
