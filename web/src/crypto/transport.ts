// The crypto machine's CryptoTransport over the websocket client (docs/protocol.md §12).
import { ChatError, type ChatClient } from "../protocol/client";
import { uuid } from "./encoding";
import type { CryptoTransport } from "./wire";

/** Split `items` into frames under the server's max_frame_bytes (and at most `max` items each). */
export function chunks<T>(items: T[], maxBytes: number, max = 1000): T[][] {
  const budget = Math.max(1024, maxBytes * 0.75); // room for msgpack's framing and the other fields
  const out: T[][] = [];
  let cur: T[] = [];
  let size = 0;
  for (const item of items) {
    const n = JSON.stringify(item).length;
    if (cur.length && (size + n > budget || cur.length >= max)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(item);
    size += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

export function wsTransport(client: ChatClient): CryptoTransport {
  return {
    uploadKeys: async (req) => {
      const r = await client.request("upload_keys", req);
      return { one_time_keys: r.one_time_keys ?? 0, fallback: r.fallback ?? false };
    },
    queryKeys: async (users) => {
      const out = [];
      for (let i = 0; i < users.length; i += 1000) out.push(...(await client.request("query_keys", { users: users.slice(i, i + 1000) })).devices);
      return out;
    },
    claimKeys: async (devices) => (await client.request("claim_keys", { devices })).keys.map((k) => ({ ...k, fallback: k.fallback ?? false })),
    sendToDevice: async (txn, messages) => {
      const parts = chunks(messages, client.maxFrameBytes);
      for (const [i, part] of parts.entries()) await client.request("send_to_device", { txn: i === 0 ? txn : uuid(), messages: part });
    },
    createBackup: async (auth) => {
      const b = await client.request("create_backup", { auth });
      return { version: b.version, auth: b.auth };
    },
    getBackup: async () => {
      try {
        const b = await client.request("get_backup", {});
        return { version: b.version, auth: b.auth };
      } catch (err) {
        if (err instanceof ChatError && err.code === "not_found") return null;
        throw err;
      }
    },
    putBackupKeys: async (version, keys) => {
      for (const part of chunks(keys, client.maxFrameBytes)) await client.request("put_backup_keys", { version, keys: part });
    },
    getBackupKeys: async (version, after) => {
      const r = await client.request("get_backup_keys", { version, after });
      return { keys: r.keys, more: r.more ?? false };
    },
  };
}
