// The key backup's cryptography (docs/e2ee.md §4), with WebCrypto: the recovery key (32 random bytes shown as
// base58 in groups of four), the two keys HKDF-SHA256 derives from it, the `auth` string that tells a mistyped
// recovery key at once, and the AES-256-GCM entries (bound to their room and session by the additional data,
// so an entry the server forged or moved fails to decrypt).
import { fromBase58, fromBase64, toBase58, toBase64, utf8 } from "./encoding";

export interface BackupKeys {
  enc: CryptoKey;
  check: CryptoKey;
}

/** The plaintext of one backup entry. */
export interface BackupSession {
  room: number;
  session_id: string;
  sender_key: string;
  session_key: string;
}

export const newRecoveryKey = (): Uint8Array<ArrayBuffer> => crypto.getRandomValues(new Uint8Array(32));

/** "EsTc LW2K ...": base58 in groups of four. */
export const formatRecoveryKey = (key: Uint8Array): string => toBase58(key).replace(/(.{4})(?=.)/g, "$1 ");

/** The 32 bytes of a typed recovery key (spaces and line breaks ignored); a clear error otherwise. */
export function parseRecoveryKey(text: string): Uint8Array<ArrayBuffer> {
  const compact = text.replace(/\s+/g, "");
  if (!compact) throw new Error("Type the recovery key.");
  const bytes = fromBase58(compact);
  if (bytes.length !== 32) throw new Error("This is not a whole recovery key: check that nothing is missing.");
  return bytes;
}

async function hkdf(recoveryKey: Uint8Array<ArrayBuffer>, info: string, usage: "enc" | "check"): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", recoveryKey, "HKDF", false, ["deriveKey"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8(info) };
  return usage === "enc"
    ? crypto.subtle.deriveKey(params, base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"])
    : crypto.subtle.deriveKey(params, base, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign"]);
}

export async function backupKeys(recoveryKey: Uint8Array<ArrayBuffer>): Promise<BackupKeys> {
  return {
    enc: await hkdf(recoveryKey, "chatd-backup-v1:enc", "enc"),
    check: await hkdf(recoveryKey, "chatd-backup-v1:check", "check"),
  };
}

/** base64(HMAC-SHA256(check key, "chatd-backup")): stored with the backup. */
export async function backupAuth(keys: BackupKeys): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", keys.check, utf8("chatd-backup"))));
}

/** Whether these keys are the backup's (the recovery key was typed right). */
export async function matchesAuth(keys: BackupKeys, auth: string): Promise<boolean> {
  return (await backupAuth(keys)) === auth.replace(/=+$/, "");
}

const aad = (room: number, sessionId: string) => utf8(`${room}:${sessionId}`);

/** `data` of a backup entry: base64(nonce(12) || AES-256-GCM(JSON)). */
export async function sealEntry(keys: BackupKeys, s: BackupSession): Promise<string> {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const json = JSON.stringify({ room: s.room, session_id: s.session_id, sender_key: s.sender_key, session_key: s.session_key });
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad(s.room, s.session_id) }, keys.enc, utf8(json)));
  const out = new Uint8Array(12 + ct.length);
  out.set(nonce);
  out.set(ct, 12);
  return toBase64(out);
}

/** The session of a backup entry, or null when it does not decrypt or does not say what its place says. */
export async function openEntry(keys: BackupKeys, room: number, sessionId: string, data: string): Promise<BackupSession | null> {
  try {
    const bytes = fromBase64(data);
    if (bytes.length < 12 + 16) return null;
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: aad(room, sessionId) }, keys.enc, bytes.slice(12));
    const s = JSON.parse(new TextDecoder().decode(plain)) as Partial<BackupSession>;
    if (s.room !== room || s.session_id !== sessionId || typeof s.sender_key !== "string" || typeof s.session_key !== "string") return null;
    return { room, session_id: sessionId, sender_key: s.sender_key, session_key: s.session_key };
  } catch {
    return null;
  }
}
