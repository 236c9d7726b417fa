// The crypto machine's CryptoTransport over the websocket client (docs/protocol.md §12).
import { ChatError, type ChatClient } from "../protocol/client";
import type { CryptoTransport } from "./wire";

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
      await client.request("send_to_device", { txn, messages });
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
      await client.request("put_backup_keys", { version, keys });
    },
    getBackupKeys: async (version, after) => {
      const r = await client.request("get_backup_keys", { version, after });
      return { keys: r.keys, more: r.more ?? false };
    },
  };
}
