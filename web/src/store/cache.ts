// IndexedDB cache (one database per account): messages by (room, seq), hello cursors, rooms,
// profiles and the outbox of unconfirmed sends.
import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import type { Message, Profile, RoomSummary } from "../protocol/types";
import type { SeqCounts } from "./logic";
import type { EncryptedMedia } from "../crypto/wire";

export interface Receipt { delivered_seq: number; read_seq?: number }

/** A room as this device knows it: the last list_rooms summary, kept up to date by pushes. */
export interface RoomRecord extends RoomSummary {
  /** Lowest visible seq, once the server said there is nothing older (has_more false). */
  floor?: number;
  /** Other members' cursors from `status` pushes (delivery/read ticks). */
  receipts?: Record<number, Receipt>;
  /** In rooms over 100 members: how many others have / have read each of one's latest messages. */
  counted?: SeqCounts;
  /** For direct rooms: the other member's username (from get_room). */
  title?: string;
  members?: number;
  /** A group's icon (a media id, from get_room). */
  icon?: string;
  /** Seqs this user deleted "for me": hidden on this device only. */
  hidden?: number[];
}

export interface OutboxItem {
  client_id: string;
  room: number;
  body: string;
  kind: "text" | "image" | "video" | "audio" | "file";
  media?: { id: string; duration_ms?: number; width?: number; height?: number };
  created: number;
  /** What the sender saw of the media, so the local echo can show it. */
  preview?: Message["media"];
  /** The seq of the message this one answers. */
  reply_to?: number;
  /** In an encrypted room: the uploaded ciphertext's key, IV, hash and real name/type (docs/e2ee.md §3). */
  secret?: EncryptedMedia;
}

interface Schema extends DBSchema {
  messages: { key: [number, number]; value: Message };
  cursors: { key: number; value: number };
  rooms: { key: number; value: RoomRecord };
  profiles: { key: number; value: Profile };
  outbox: { key: string; value: OutboxItem };
}

export class Cache {
  private constructor(private readonly db: IDBPDatabase<Schema>) {}

  static async open(name: string): Promise<Cache> {
    const db = await openDB<Schema>(name, 1, {
      upgrade(db) {
        db.createObjectStore("messages", { keyPath: ["room", "seq"] });
        db.createObjectStore("cursors");
        db.createObjectStore("rooms", { keyPath: "room" });
        db.createObjectStore("profiles", { keyPath: "user" });
        db.createObjectStore("outbox", { keyPath: "client_id" });
      },
      // another tab deletes it (logout): let go at once, or the deletion waits for this tab to close
      blocking(_current, _blocked, event) {
        (event.target as IDBDatabase).close();
      },
    });
    return new Cache(db);
  }

  close(): void {
    this.db.close();
  }

  async putMessages(messages: Message[]): Promise<void> {
    if (!messages.length) return;
    const tx = this.db.transaction("messages", "readwrite");
    await Promise.all([...messages.map((m) => tx.store.put(m)), tx.done]);
  }

  getMessage(room: number, seq: number): Promise<Message | undefined> {
    return this.db.get("messages", [room, seq]);
  }

  /** Messages of `room` with lo <= seq <= hi, ascending. */
  range(room: number, lo: number, hi: number): Promise<Message[]> {
    if (hi < lo) return Promise.resolve([]);
    return this.db.getAll("messages", IDBKeyRange.bound([room, lo], [room, hi]));
  }

  /** The newest `limit` cached messages of `room`, ascending. */
  async latest(room: number, limit: number): Promise<Message[]> {
    const out: Message[] = [];
    let cursor = await this.db.transaction("messages").store.openCursor(IDBKeyRange.bound([room, 0], [room, Infinity]), "prev");
    while (cursor && out.length < limit) {
      out.push(cursor.value);
      cursor = await cursor.continue();
    }
    return out.reverse();
  }

  async cursors(): Promise<Map<number, number>> {
    const tx = this.db.transaction("cursors");
    const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
    return new Map(keys.map((k, i) => [k, values[i]!]));
  }

  async setCursor(room: number, seq: number): Promise<void> {
    await this.db.put("cursors", seq, room);
  }

  rooms(): Promise<RoomRecord[]> {
    return this.db.getAll("rooms");
  }

  async putRoom(room: RoomRecord): Promise<void> {
    await this.db.put("rooms", room);
  }

  async putRooms(rooms: RoomRecord[]): Promise<void> {
    const tx = this.db.transaction("rooms", "readwrite");
    await Promise.all([...rooms.map((r) => tx.store.put(r)), tx.done]);
  }

  profiles(): Promise<Profile[]> {
    return this.db.getAll("profiles");
  }

  async putProfile(p: Profile): Promise<void> {
    await this.db.put("profiles", p);
  }

  outbox(): Promise<OutboxItem[]> {
    return this.db.getAll("outbox");
  }

  async putOutbox(item: OutboxItem): Promise<void> {
    await this.db.put("outbox", item);
  }

  async deleteOutbox(clientId: string): Promise<void> {
    await this.db.delete("outbox", clientId);
  }
}
