// The shapes the crypto machine exchanges with the server (docs/protocol.md §12) and with other devices
// (docs/e2ee.md §2–3), and the transport it needs: the websocket client implements it (src/crypto/transport.ts).
import type * as gen from "../protocol/frames.gen";

// The records of the server's frames are the generated ones (one definition: protocol/e2ee.py on the server).
export type DeviceKeys = gen.DeviceKeys;
export type OneTimeKey = gen.OneTimeKey;
export type DeviceKeyInfo = gen.DeviceKeyInfo;
export type ClaimedKey = gen.ClaimedKey;
export type ToDeviceOut = gen.ToDeviceOut;
/** A to-device message as the server delivers it (its `body` the envelope below). */
export type ToDeviceIn = gen.ToDeviceIn;
export type BackupEntry = gen.BackupKey;

export interface BackupInfo {
  version: number;
  auth: string;
}

/** What the machine asks of the server. Every call may throw (offline, refused): the machine retries later. */
export interface CryptoTransport {
  uploadKeys(req: { device_keys?: DeviceKeys; one_time_keys?: OneTimeKey[]; fallback_key?: OneTimeKey }): Promise<{ one_time_keys: number; fallback: boolean }>;
  queryKeys(users: number[]): Promise<DeviceKeyInfo[]>;
  claimKeys(devices: { user: number; device: string }[]): Promise<ClaimedKey[]>;
  sendToDevice(txn: string, messages: ToDeviceOut[]): Promise<void>;
  createBackup(auth: string): Promise<BackupInfo>;
  getBackup(): Promise<BackupInfo | null>;
  putBackupKeys(version: number, keys: BackupEntry[]): Promise<void>;
  getBackupKeys(version: number, after?: { room: number; session_id: string }): Promise<{ keys: BackupEntry[]; more: boolean }>;
}

/** The envelope in a to-device `body` (docs/e2ee.md §2). */
export interface OlmEnvelope {
  algorithm: "olm.v1";
  sender_key: string;
  type: 0 | 1;
  ciphertext: string;
}

/** An Olm plaintext (docs/e2ee.md §2). */
export interface OlmPlaintext {
  type: string;
  sender: number;
  sender_device: string;
  recipient: number;
  recipient_device: string;
  recipient_key: string;
  sender_signing_key: string;
  content: Record<string, unknown>;
}

/** A room message's `encrypted` field (docs/e2ee.md §3). */
export interface MegolmPayload {
  algorithm: "megolm.v1";
  ciphertext: string;
  session_id: string;
  sender_key: string;
  device: string;
}

/** Media of an encrypted message: where the file is and how to decrypt it (docs/e2ee.md §3). */
export interface EncryptedMedia {
  id: string;
  key: string;
  iv: string;
  sha256: string;
  mime: string;
  name?: string;
  size: number;
}

/** The Megolm plaintext of a room message (docs/e2ee.md §3). */
export interface RoomPlaintext {
  room: number;
  kind: "text" | "image" | "video" | "audio" | "file";
  body: string;
  reply_to?: number;
  media?: EncryptedMedia;
}
