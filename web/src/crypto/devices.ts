// The devices this device knows (docs/e2ee.md §1): what query_keys answered, checked signature by signature,
// with the marks only this device gives: verified (SAS, §6) and changed (the server now names other keys
// for a device id it named before: a loud warning, and no key goes to it).
import { verifyDeviceKeys } from "./statements";
import type { SealedStore } from "./store";
import type { DeviceKeyInfo } from "./wire";

export interface DeviceRecord {
  user: number;
  device: string;
  identity_key: string;
  signing_key: string;
  name?: string | null;
  verified: boolean;
  /** The keys the server names now for this device, when they differ from the first ones seen. */
  changed?: { identity_key: string; signing_key: string };
  /** Signed out: no key goes to it, but what it sent before (a late to-device message) is still checked. */
  gone?: boolean;
}

/** What one refresh of a user's devices changed. */
export interface DeviceDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export class DeviceRegistry {
  private readonly users = new Map<number, Map<string, DeviceRecord>>();
  /** Users whose list must be asked again before the next key goes out (devices_changed). */
  private readonly stale = new Set<number>();

  constructor(private readonly store: SealedStore) {}

  async load(): Promise<void> {
    for (const [id, list] of await this.store.all<DeviceRecord[]>("devices")) {
      this.users.set(Number(id), new Map(list.map((d) => [d.device, d])));
    }
  }

  known(user: number): boolean {
    return this.users.has(user) && !this.stale.has(user);
  }

  markStale(user: number): void {
    this.stale.add(user);
  }

  markAllStale(): void {
    for (const user of this.users.keys()) this.stale.add(user);
  }

  /** A device, signed in or gone (`gone`: to check what it sent before it left). */
  get(user: number, device: string): DeviceRecord | undefined {
    return this.users.get(user)?.get(device);
  }

  /** The user's signed-in devices. */
  of(user: number): DeviceRecord[] {
    return [...(this.users.get(user)?.values() ?? [])].filter((d) => !d.gone);
  }

  private all(user: number): DeviceRecord[] {
    return [...(this.users.get(user)?.values() ?? [])];
  }

  /** The device with this identity key, if any. */
  byIdentityKey(user: number, identityKey: string): DeviceRecord | undefined {
    return this.of(user).find((d) => d.identity_key === identityKey);
  }

  /** Users with a device whose keys changed (the banner names them). */
  changedUsers(): number[] {
    return [...this.users].filter(([, m]) => [...m.values()].some((d) => d.changed && !d.gone)).map(([u]) => u);
  }

  /** Take a query_keys answer for `asked` users: drop entries with a bad signature, flag changed keys. */
  async update(asked: number[], infos: DeviceKeyInfo[]): Promise<Map<number, DeviceDiff>> {
    const diffs = new Map<number, DeviceDiff>();
    for (const user of asked) {
      const before = this.users.get(user) ?? new Map<string, DeviceRecord>();
      const after = new Map<string, DeviceRecord>();
      const diff: DeviceDiff = { added: [], removed: [], changed: [] };
      for (const info of infos) {
        if (info.user !== user || !verifyDeviceKeys(user, info.device, info)) continue;
        const old = before.get(info.device);
        if (old?.gone) delete old.gone; // (a device id is never reused: the server lists it again)
        if (!old) {
          after.set(info.device, { user, device: info.device, identity_key: info.identity_key, signing_key: info.signing_key, name: info.name, verified: false });
          diff.added.push(info.device);
        } else if (old.identity_key !== info.identity_key || old.signing_key !== info.signing_key) {
          after.set(info.device, { ...old, name: info.name, verified: false, changed: { identity_key: info.identity_key, signing_key: info.signing_key } });
          if (!old.changed) diff.changed.push(info.device);
        } else {
          after.set(info.device, { ...old, name: info.name ?? old.name });
        }
      }
      for (const [device, d] of before) {
        if (after.has(device)) continue;
        if (!d.gone) diff.removed.push(device);
        after.set(device, { ...d, gone: true });
      }
      this.users.set(user, after);
      this.stale.delete(user);
      diffs.set(user, diff);
      await this.store.put("devices", String(user), [...after.values()]);
    }
    return diffs;
  }

  /** Mark a device verified: only when `signingKey` is the one we hold for it (the SAS compared that one). */
  async setVerified(user: number, device: string, signingKey: string): Promise<boolean> {
    const d = this.get(user, device);
    if (!d || d.changed || d.signing_key !== signingKey) return false;
    d.verified = true;
    await this.store.put("devices", String(user), this.all(user));
    return true;
  }

  /** The user saw the warning and accepts the device's new keys (unverified from now on). */
  async acceptChange(user: number, device: string): Promise<void> {
    const d = this.get(user, device);
    if (!d?.changed) return;
    Object.assign(d, d.changed, { verified: false });
    delete d.changed;
    await this.store.put("devices", String(user), this.all(user));
  }
}
