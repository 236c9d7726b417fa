// Decryption as the timeline sees it: each encrypted message's plaintext, or where its key is ("waiting for
// the key" while the stream, the backup or our other devices may still bring it; "unable to decrypt" only
// when all of them failed). Messages are decrypted when they come into view and again when their key comes.
import type { Message } from "../protocol/types";
import type { CryptoMachine, DecryptResult, KeySearch } from "./machine";
import type { EncryptedMedia, MegolmPayload, RoomPlaintext } from "./wire";

/** The client-side view of an encrypted message, on the Message the UI renders. */
export type E2eeShown = { state: "ok"; verified: boolean } | { state: "pending"; search: KeySearch } | { state: "failed"; reason: string };

export const payloadOf = (m: Message): MegolmPayload | undefined =>
  m.kind === "encrypted" ? m.encrypted : undefined;

const keyOf = (m: { room: number; seq: number }) => `${m.room}:${m.seq}`;

export class Timeline {
  private readonly results = new Map<string, DecryptResult>();
  private readonly inflight = new Set<string>();
  /** session id -> the messages waiting for it */
  private readonly waiting = new Map<string, Map<string, Message>>();

  constructor(private readonly machine: () => CryptoMachine | null, private readonly changed: () => void) {}

  /** The message as the timeline shows it: its plaintext's kind and body when decrypted. */
  shown(m: Message): Message & { e2ee?: E2eeShown; secret?: EncryptedMedia } {
    const payload = payloadOf(m);
    if (!payload || m.deleted) return m;
    const r = this.results.get(keyOf(m));
    if (!r) this.want([m]); // one not met yet (a reply's original fetched on its own): decrypt it now
    if (!r || r.state === "pending") return { ...m, body: undefined, e2ee: { state: "pending", search: r?.state === "pending" ? r.search : "waiting" } };
    if (r.state === "failed") return { ...m, body: undefined, e2ee: { state: "failed", reason: r.reason } };
    const c: RoomPlaintext = r.content;
    const e2ee: E2eeShown = { state: "ok", verified: r.verified };
    const shown = { ...m, kind: c.kind, body: c.body || undefined, reply_to: m.reply_to ?? c.reply_to, e2ee };
    if (!c.media || c.media.id !== m.media?.id) return { ...shown, media: undefined }; // a file must be the one sent in clear
    return { ...shown, media: { ...m.media, mime: c.media.mime, size: c.media.size, file_name: c.media.name, thumbnail_id: undefined }, secret: c.media };
  }

  /** Our own sent message: its plaintext is known, no need to decrypt it. */
  know(m: { room: number; seq: number }, content: RoomPlaintext): void {
    this.results.set(keyOf(m), { state: "ok", content, device: "", verified: true });
  }

  /** Decrypt those of `messages` not tried yet. */
  want(messages: Iterable<Message>): void {
    for (const m of messages) {
      const k = keyOf(m);
      if (payloadOf(m) && !m.deleted && !this.results.has(k) && !this.inflight.has(k)) void this.run(m);
    }
  }

  private async run(m: Message): Promise<void> {
    const payload = payloadOf(m)!;
    const k = keyOf(m);
    const machine = this.machine();
    const list = this.waiting.get(payload.session_id) ?? new Map<string, Message>();
    list.set(k, m);
    this.waiting.set(payload.session_id, list);
    if (!machine || m.sender === undefined) return; // again when the machine is ready
    this.inflight.add(k);
    try {
      const r = await machine.decrypt(m.room, m.sender, payload, m.seq > 0 ? m.seq : undefined);
      this.results.set(k, r);
      if (r.state !== "pending") list.delete(k);
    } finally {
      this.inflight.delete(k);
    }
    this.changed();
  }

  /** A key arrived (or the machine just started): try what waits for it again. */
  retry(sessionId?: string): void {
    const lists = sessionId === undefined ? [...this.waiting.values()] : [this.waiting.get(sessionId)].filter((l) => !!l);
    for (const list of lists) for (const [k, m] of list) {
      if (this.results.get(k)?.state === "ok") continue;
      this.results.delete(k);
      void this.run(m);
    }
  }

  /** The search for a key moved on: show it ("failed" becomes "unable to decrypt"). */
  searched(sessionId: string, search: KeySearch): void {
    for (const k of this.waiting.get(sessionId)?.keys() ?? []) {
      this.results.set(k, search === "failed" ? { state: "failed", reason: "the key never came" } : { state: "pending", search });
    }
    this.changed();
  }
}
