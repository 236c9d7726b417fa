// Attaching a file: measure a video's size and duration, upload with progress, then send the message.
import type { ChatStore } from "./store/chat";
import { uuid4 } from "./store/chat";
import { upload } from "./http";
import { session } from "./session";
import type { MediaKind, MediaRef } from "./protocol/types";
import { encryptFile } from "./crypto/attachment";

export function kindOf(mime: string): MediaKind {
  if (/^image\/(jpeg|png|gif|webp)$/.test(mime)) return "image";
  if (mime.startsWith("video/")) return "video";
  if (mime.startsWith("audio/")) return "audio";
  return "file";
}

function probe(file: File, tag: "video" | "audio"): Promise<{ duration_ms?: number; width?: number; height?: number }> {
  return new Promise((resolve) => {
    const el = document.createElement(tag);
    const url = URL.createObjectURL(file);
    const done = (r: { duration_ms?: number; width?: number; height?: number }) => {
      URL.revokeObjectURL(url);
      resolve(r);
    };
    el.preload = "metadata";
    el.onloadedmetadata = () => {
      const d = Number.isFinite(el.duration) && el.duration > 0 ? Math.round(el.duration * 1000) : undefined;
      const v = el as HTMLVideoElement;
      done(tag === "video" && v.videoWidth ? { duration_ms: d, width: v.videoWidth, height: v.videoHeight } : { duration_ms: d });
    };
    el.onerror = () => done({});
    setTimeout(() => done({}), 5000);
    el.src = url;
  });
}

export async function sendFile(store: ChatStore, room: number, file: File, caption: string): Promise<void> {
  const key = uuid4();
  if (store.state.rooms[room]?.encrypted) return sendEncryptedFile(store, room, file, caption, key);
  const token = await session.access();
  if (!token) return;
  const handle = upload(file, file.name, token, (progress) => {
    const up = store.state.uploads[key];
    if (up) store.setUpload({ ...up, progress }, key);
  });
  store.setUpload({ key, room, name: file.name, progress: 0, abort: handle.abort }, key);
  try {
    type Measured = { duration_ms?: number; width?: number; height?: number };
    const guess: Promise<Measured> = file.type.startsWith("video/") ? probe(file, "video")
      : file.type.startsWith("audio/") ? probe(file, "audio") : Promise.resolve({});
    const [up, measured] = await Promise.all([handle.promise, guess]);
    const kind = kindOf(up.mime);
    const media: MediaRef = { id: up.id };
    if ((kind === "video" || kind === "audio") && measured.duration_ms) media.duration_ms = measured.duration_ms;
    if (kind === "video" && measured.width && measured.height) Object.assign(media, { width: measured.width, height: measured.height });
    store.setUpload(null, key);
    await store.enqueue({
      client_id: uuid4(), room, body: caption, kind, media, created: Date.now(),
      preview: {
        id: up.id, mime: up.mime, size: up.size, width: up.width ?? media.width, height: up.height ?? media.height,
        duration_ms: media.duration_ms, file_name: up.filename ?? file.name, thumbnail_id: up.thumbnail_id ?? undefined,
      },
    });
  } catch (err) {
    const cur = store.state.uploads[key];
    if (cur) store.setUpload({ ...cur, error: (err as Error).message }, key);
  }
}

/** In an encrypted chat the server gets only ciphertext: no name, no type, no size beyond the upload's own;
 * the key, the real name and type travel in the message's Megolm plaintext (docs/e2ee.md §3). */
async function sendEncryptedFile(store: ChatStore, room: number, file: File, caption: string, key: string): Promise<void> {
  const token = await session.access();
  if (!token) return;
  store.setUpload({ key, room, name: file.name, progress: 0, abort: () => undefined }, key);
  try {
    const mime = file.type || "application/octet-stream";
    const { ciphertext, media } = await encryptFile(await file.arrayBuffer(), mime, file.name);
    const handle = upload(new Blob([ciphertext], { type: "application/octet-stream" }), "encrypted", token, (progress) => {
      const up = store.state.uploads[key];
      if (up) store.setUpload({ ...up, progress }, key);
    });
    store.setUpload({ key, room, name: file.name, progress: 0, abort: handle.abort }, key);
    const up = await handle.promise;
    store.setUpload(null, key);
    await store.enqueue({
      client_id: uuid4(), room, body: caption, kind: kindOf(mime), media: { id: up.id }, created: Date.now(),
      secret: { ...media, id: up.id },
      preview: { id: up.id, mime, size: file.size, file_name: file.name },
    });
  } catch (err) {
    const cur = store.state.uploads[key];
    if (cur) store.setUpload({ ...cur, error: (err as Error).message }, key);
  }
}
