// The crypto store (docs/e2ee.md §5): named records (the account, Olm sessions, Megolm sessions, the devices
// seen, verification marks, the backup's state), each sealed with AES-256-GCM under a key derived from the
// pickle key, so nothing of it is readable without the password; the Olm/Megolm pickles inside are also
// encrypted by the library under the pickle key itself. The browser keeps it in IndexedDB, tests in memory.
import { openDB, type IDBPDatabase } from "idb";
import { fromBase64, toBase64, utf8 } from "./encoding";

export type Kind = "account" | "olm" | "inbound" | "outbound" | "devices" | "meta";
const KINDS: Kind[] = ["account", "olm", "inbound", "outbound", "devices", "meta"];

/** Where sealed records live: opaque strings by kind and id. */
export interface RawStore {
  get(kind: Kind, id: string): Promise<string | undefined>;
  put(kind: Kind, id: string, sealed: string): Promise<void>;
  delete(kind: Kind, id: string): Promise<void>;
  all(kind: Kind): Promise<[string, string][]>;
}

export class MemoryStore implements RawStore {
  readonly data = new Map<string, string>();

  async get(kind: Kind, id: string) {
    return this.data.get(`${kind}/${id}`);
  }

  async put(kind: Kind, id: string, sealed: string) {
    this.data.set(`${kind}/${id}`, sealed);
  }

  async delete(kind: Kind, id: string) {
    this.data.delete(`${kind}/${id}`);
  }

  async all(kind: Kind) {
    const prefix = `${kind}/`;
    return [...this.data].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v] as [string, string]);
  }
}

/** The IndexedDB store, one database per account (`chatd-crypto-<user>`: sign-out wipes it with the rest). */
export class IdbStore implements RawStore {
  private constructor(private readonly db: IDBPDatabase) {}

  static async open(name: string): Promise<IdbStore> {
    const db = await openDB(name, 1, {
      upgrade(db) {
        for (const kind of KINDS) db.createObjectStore(kind);
        db.createObjectStore("wrap"); // the pickle key, wrapped (pickleKey.ts)
      },
      blocking(_current, _blocked, event) {
        (event.target as IDBDatabase).close(); // another tab deletes it (logout): let go at once
      },
    });
    return new IdbStore(db);
  }

  get raw(): IDBPDatabase {
    return this.db;
  }

  async get(kind: Kind, id: string) {
    return (await this.db.get(kind, id)) as string | undefined;
  }

  async put(kind: Kind, id: string, sealed: string) {
    await this.db.put(kind, sealed, id);
  }

  async delete(kind: Kind, id: string) {
    await this.db.delete(kind, id);
  }

  async all(kind: Kind) {
    const tx = this.db.transaction(kind);
    const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
    return keys.map((k, i) => [k as string, values[i] as string] as [string, string]);
  }

  /** Empty every kind (a store left by another device of this browser). */
  async clear(): Promise<void> {
    for (const kind of KINDS) await this.db.clear(kind);
  }

  close(): void {
    this.db.close();
  }
}

/** Records as JSON, sealed with AES-256-GCM (additional data: kind and id, so a record cannot be moved). */
export class SealedStore {
  private constructor(private readonly raw: RawStore, private readonly key: CryptoKey, readonly pickleKey: Uint8Array) {}

  static async open(raw: RawStore, pickleKey: Uint8Array): Promise<SealedStore> {
    const base = await crypto.subtle.importKey("raw", new Uint8Array(pickleKey), "HKDF", false, ["deriveKey"]);
    const key = await crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8("chatd-store-v1") },
      base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    return new SealedStore(raw, key, new Uint8Array(pickleKey));
  }

  private async seal(kind: Kind, id: string, value: unknown): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(`${kind}/${id}`) }, this.key, utf8(JSON.stringify(value)));
    return `${toBase64(iv)}.${toBase64(new Uint8Array(ct))}`;
  }

  private async open<T>(kind: Kind, id: string, sealed: string): Promise<T> {
    const [iv = "", ct = ""] = sealed.split(".");
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64(iv), additionalData: utf8(`${kind}/${id}`) }, this.key, fromBase64(ct));
    return JSON.parse(new TextDecoder().decode(plain)) as T;
  }

  /** A record, or undefined; throws when it does not decrypt (the wrong password: never silently empty). */
  async get<T>(kind: Kind, id: string): Promise<T | undefined> {
    const sealed = await this.raw.get(kind, id);
    return sealed === undefined ? undefined : this.open<T>(kind, id, sealed);
  }

  async put(kind: Kind, id: string, value: unknown): Promise<void> {
    await this.raw.put(kind, id, await this.seal(kind, id, value));
  }

  async delete(kind: Kind, id: string): Promise<void> {
    await this.raw.delete(kind, id);
  }

  async all<T>(kind: Kind): Promise<[string, T][]> {
    const out: [string, T][] = [];
    for (const [id, sealed] of await this.raw.all(kind)) out.push([id, await this.open<T>(kind, id, sealed)]);
    return out;
  }
}
