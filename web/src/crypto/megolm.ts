// Megolm sessions (docs/e2ee.md §3): this device's outbound session per room, with the rotation rules (a
// member left, was removed or added: the list's members_seq moved; a member's device list changed; 100
// messages; one week), and the inbound sessions of every sender, by room and session id.
import { GroupInbound, GroupOutbound } from "./olm";
import type { SealedStore } from "./store";

export const ROTATE_MESSAGES = 100;
export const ROTATE_MS = 7 * 24 * 3600 * 1000;

interface OutboundRecord {
  pickle: string;
  created: number;
  count: number;
  /** "user:device:identity key" of every device the key went to, sorted: who may read this session. */
  recipients: string[];
  /** The `members_seq` of the room's member list the key went to (docs/protocol.md §12.4): a session shared
   * for another list (a member left, was removed or added since) is never used again. */
  members_seq?: number;
}

export interface InboundRecord {
  pickle: string;
  room: number;
  session_id: string;
  /** The identity key of the device that made the session. */
  sender_key: string;
  /** Who sent the room_key (a forwarded or restored key has none: only its sender_key). */
  sender?: number;
  sender_device?: string;
  /** The backup version this session is stored in, if any. */
  backed_up?: number;
  /** Message index -> the seq it was first seen at (the same ciphertext again elsewhere is a replay). */
  seen?: Record<number, number>;
}

export interface Outbound {
  session: GroupOutbound;
  record: OutboundRecord;
}

const inboundId = (room: number, sessionId: string) => `${room}|${sessionId}`;

export class GroupSessions {
  private readonly outbound = new Map<number, Outbound>();
  private readonly inbound = new Map<string, { session: GroupInbound; record: InboundRecord }>();

  constructor(private readonly store: SealedStore, private readonly now: () => number = Date.now) {}

  async load(): Promise<void> {
    for (const [room, r] of await this.store.all<OutboundRecord>("outbound")) {
      this.outbound.set(Number(room), { session: GroupOutbound.unpickle(this.store.pickleKey, r.pickle), record: r });
    }
    for (const [id, r] of await this.store.all<InboundRecord>("inbound")) {
      this.inbound.set(id, { session: GroupInbound.unpickle(this.store.pickleKey, r.pickle), record: r });
    }
  }

  /** The room's outbound session, when it may still be used for a message to `recipients`, the devices of
   * the member list at `membersSeq`. */
  current(room: number, recipients: string[], membersSeq: number): Outbound | null {
    const out = this.outbound.get(room);
    if (!out) return null;
    const r = out.record;
    const same = r.recipients.length === recipients.length && r.recipients.every((x, i) => x === recipients[i]);
    if (!same || r.members_seq !== membersSeq || r.count >= ROTATE_MESSAGES || this.now() - r.created >= ROTATE_MS) return null;
    return out;
  }

  /** A new outbound session for the room (the old one is never used again). */
  async create(room: number, recipients: string[], membersSeq: number): Promise<Outbound> {
    this.outbound.get(room)?.session.free();
    const session = GroupOutbound.create();
    const out = { session, record: { pickle: "", created: this.now(), count: 0, recipients, members_seq: membersSeq } };
    this.outbound.set(room, out);
    await this.saveOutbound(room, out);
    return out;
  }

  /** Rotate at the next message (a member left or was removed, their devices changed). */
  async discard(room: number): Promise<void> {
    this.outbound.get(room)?.session.free();
    this.outbound.delete(room);
    await this.store.delete("outbound", String(room));
  }

  rooms(): number[] {
    return [...this.outbound.keys()];
  }

  async saveOutbound(room: number, out: Outbound): Promise<void> {
    out.record.pickle = out.session.pickle(this.store.pickleKey);
    await this.store.put("outbound", String(room), out.record);
  }

  getInbound(room: number, sessionId: string): { session: GroupInbound; record: InboundRecord } | undefined {
    return this.inbound.get(inboundId(room, sessionId));
  }

  allInbound(): { session: GroupInbound; record: InboundRecord }[] {
    return [...this.inbound.values()];
  }

  /** Keep an inbound session unless one known from an earlier index is already held. True when kept. */
  async addInbound(session: GroupInbound, meta: Omit<InboundRecord, "pickle">): Promise<boolean> {
    const id = inboundId(meta.room, meta.session_id);
    const have = this.inbound.get(id);
    if (have && (have.record.sender_key !== meta.sender_key || have.session.firstKnownIndex <= session.firstKnownIndex)) {
      session.free();
      return false;
    }
    have?.session.free();
    const entry = { session, record: { ...meta, pickle: "" } };
    this.inbound.set(id, entry);
    await this.saveInbound(entry);
    return true;
  }

  async saveInbound(entry: { session: GroupInbound; record: InboundRecord }): Promise<void> {
    entry.record.pickle = entry.session.pickle(this.store.pickleKey);
    await this.store.put("inbound", inboundId(entry.record.room, entry.record.session_id), entry.record);
  }
}
