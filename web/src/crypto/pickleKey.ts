// The pickle key (docs/e2ee.md §5, "Web client"): derived at sign-in with PBKDF2-SHA256 (600,000 rounds)
// from the password and the user/device ids. So that a reload does not ask for the password again, it is
// kept wrapped (AES-GCM) under a non-extractable key that only this browser profile can use: no script can
// read the wrapping key's bytes, and the sign-out wipe deletes both.
import type { IDBPDatabase } from "idb";
import { utf8 } from "./encoding";

export const PBKDF2_ROUNDS = 600_000;

export async function derivePickleKey(password: string, user: number, device: string, rounds = PBKDF2_ROUNDS): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", utf8(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", iterations: rounds, salt: utf8(`chatd-pickle-v1:${user}:${device}`) }, base, 256);
  return new Uint8Array(bits);
}

interface Wrapped {
  device: string;
  wrapping: CryptoKey;
  iv: Uint8Array<ArrayBuffer>;
  wrapped: ArrayBuffer;
}

/** Keep `pickleKey` for this device across reloads, wrapped under a fresh non-extractable key. */
export async function rememberPickleKey(db: IDBPDatabase, device: string, pickleKey: Uint8Array): Promise<void> {
  const wrapping = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const wrapped = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, wrapping, new Uint8Array(pickleKey));
  const record: Wrapped = { device, wrapping, iv, wrapped };
  await db.put("wrap", record, "pickle");
}

/** The pickle key kept for `device`, or null (never kept, another device's, or unreadable). */
export async function recallPickleKey(db: IDBPDatabase, device: string): Promise<Uint8Array | null> {
  try {
    const record = (await db.get("wrap", "pickle")) as Wrapped | undefined;
    if (!record || record.device !== device) return null;
    return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: record.iv }, record.wrapping, record.wrapped));
  } catch {
    return null;
  }
}
