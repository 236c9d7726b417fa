// An in-memory chatd for the crypto machine's tests: the §12 frames as plain method calls, with per-device
// to-device queues the test delivers when it wants (keys may come late, like on the real streams).
import type { RoomMembers } from "../../src/crypto/machine";
import type { DeviceKeys, OneTimeKey } from "../../src/crypto/statements";
import type { BackupEntry, BackupInfo, ClaimedKey, CryptoTransport, DeviceKeyInfo, ToDeviceIn, ToDeviceOut } from "../../src/crypto/wire";

interface Dev {
  user: number;
  device: string;
  keys?: DeviceKeys;
  otks: OneTimeKey[];
  fallback?: OneTimeKey;
  inbox: ToDeviceIn[];
}

export class FakeServer {
  readonly devs = new Map<string, Dev>();
  private nextId = 1;
  backups = new Map<number, { info: BackupInfo; entries: Map<string, BackupEntry> }>();
  /** Rewrites query_keys answers (a lying server). */
  tamper: (infos: DeviceKeyInfo[]) => DeviceKeyInfo[] = (x) => x;
  sent: ToDeviceOut[] = [];

  private dev(user: number, device: string): Dev {
    const id = `${user}:${device}`;
    let d = this.devs.get(id);
    if (!d) {
      d = { user, device, otks: [], inbox: [] };
      this.devs.set(id, d);
    }
    return d;
  }

  signOut(user: number, device: string): void {
    this.devs.delete(`${user}:${device}`);
  }

  /** Take the to-device messages waiting for a device (as the to_device push would). */
  take(user: number, device: string): ToDeviceIn[] {
    const d = this.dev(user, device);
    return d.inbox.splice(0);
  }

  transport(user: number, device: string): CryptoTransport {
    return {
      uploadKeys: async (req) => {
        const d = this.dev(user, device);
        if (req.device_keys) d.keys = req.device_keys;
        d.otks.push(...(req.one_time_keys ?? []));
        if (req.fallback_key) d.fallback = req.fallback_key;
        return { one_time_keys: d.otks.length, fallback: !!d.fallback };
      },
      queryKeys: async (users) => this.tamper([...this.devs.values()]
        .filter((d) => users.includes(d.user) && d.keys)
        .map((d) => ({ user: d.user, device: d.device, ...d.keys!, name: `device ${d.device}` }))),
      claimKeys: async (devices) => devices.flatMap(({ user: u, device: dv }): ClaimedKey[] => {
        const d = this.devs.get(`${u}:${dv}`);
        const k = d?.otks.shift() ?? d?.fallback;
        return d && k ? [{ user: u, device: dv, ...k, fallback: !d.otks.length && k === d.fallback }] : [];
      }),
      sendToDevice: async (_txn, messages) => {
        this.sent.push(...messages);
        for (const m of messages) {
          const d = this.devs.get(`${m.user}:${m.device}`);
          d?.inbox.push({ id: this.nextId++, sender: user, sender_device: device, body: m.body });
        }
      },
      createBackup: async (auth) => {
        const info = { version: (Math.max(0, ...[...this.backups.values()].map((b) => b.info.version)) + 1), auth };
        this.backups.set(user, { info, entries: new Map() });
        return info;
      },
      getBackup: async () => this.backups.get(user)?.info ?? null,
      putBackupKeys: async (version, keys) => {
        const b = this.backups.get(user);
        if (!b || b.info.version !== version) throw new Error("conflict");
        for (const k of keys) b.entries.set(`${k.room}|${k.session_id}`, k);
      },
      getBackupKeys: async (version) => {
        const b = this.backups.get(user);
        if (!b || b.info.version !== version) throw new Error("conflict");
        return { keys: [...b.entries.values()], more: false };
      },
    };
  }
}

/** A room's members as `get_room` gives them (`seq`: their `members_seq`). */
export const roomMembers = (users: number[], seq = 0): RoomMembers => ({ users, seq });
