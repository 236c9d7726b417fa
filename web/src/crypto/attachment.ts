// Files in encrypted rooms (docs/e2ee.md §3, "Media"): encrypted here before the upload with AES-256-CTR under
// a fresh key and IV (the IV is the whole initial 128-bit counter block, incremented as one big-endian
// number, as Python's `modes.CTR` does), so the server stores bytes it cannot read; the message's Megolm
// plaintext carries the key, the IV and the SHA-256 of the ciphertext, checked before decrypting.
import { fromBase64, toBase64 } from "./encoding";
import type { EncryptedMedia } from "./wire";

const CTR = (iv: Uint8Array<ArrayBuffer>) => ({ name: "AES-CTR", counter: iv, length: 128 });

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

/** The ciphertext to upload, and what the message's plaintext says of it (its `id` comes with the upload). */
export async function encryptFile(data: ArrayBuffer, mime: string, name: string): Promise<{ ciphertext: Uint8Array<ArrayBuffer>; media: Omit<EncryptedMedia, "id"> }> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey("raw", raw, "AES-CTR", false, ["encrypt"]);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt(CTR(iv), key, data));
  return { ciphertext, media: { key: toBase64(raw), iv: toBase64(iv), sha256: await sha256(ciphertext), mime, name, size: data.byteLength } };
}

/** The file's bytes; throws when the download is not the ciphertext the sender hashed (changed or cut). */
export async function decryptFile(ciphertext: ArrayBuffer, media: EncryptedMedia): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = new Uint8Array(ciphertext);
  if ((await sha256(bytes)) !== media.sha256.replace(/=+$/, "")) throw new Error("the file was changed after it was sent");
  const key = await crypto.subtle.importKey("raw", fromBase64(media.key), "AES-CTR", false, ["decrypt"]);
  return new Uint8Array(await crypto.subtle.decrypt(CTR(fromBase64(media.iv)), key, bytes));
}
