// Tokens kept in localStorage; refresh through the HTTP side (one refresh at a time: a refresh token
// is spent on use, and reusing it revokes the device).
import type { AuthOk } from "./protocol/types";
import type { Tokens } from "./protocol/client";
import * as http from "./http";

export interface StoredAuth {
  userId: number;
  username: string;
  access: string;
  refresh: string;
  expiresAt: number;
}

const KEY = "chatd.auth";

export function loadAuth(): StoredAuth | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as StoredAuth) : null;
  } catch {
    return null;
  }
}

export function saveAuth(ok: AuthOk): StoredAuth {
  const auth: StoredAuth = {
    userId: ok.user_id, username: ok.username, access: ok.access_token, refresh: ok.refresh_token,
    expiresAt: Date.now() + ok.expires_in * 1000,
  };
  localStorage.setItem(KEY, JSON.stringify(auth));
  return auth;
}

export function clearAuth(): void {
  localStorage.removeItem(KEY);
}

export class SessionTokens implements Tokens {
  private inflight: Promise<string | null> | null = null;

  constructor(private readonly refreshFn: (token: string) => Promise<AuthOk> = http.refresh) {}

  current(): StoredAuth | null {
    return loadAuth();
  }

  expiresAt(): number {
    return loadAuth()?.expiresAt ?? 0;
  }

  async access(): Promise<string | null> {
    const auth = loadAuth();
    if (!auth) return null;
    if (auth.expiresAt - Date.now() > 30_000) return auth.access;
    return this.refresh();
  }

  refresh(): Promise<string | null> {
    this.inflight ??= this.doRefresh().finally(() => (this.inflight = null));
    return this.inflight;
  }

  private async doRefresh(): Promise<string | null> {
    const auth = loadAuth();
    if (!auth) return null;
    try {
      return saveAuth(await this.refreshFn(auth.refresh)).access;
    } catch (err) {
      if ((err as { code?: string }).code === "unauthorized") {
        clearAuth();
        return null;
      }
      throw err;
    }
  }
}
