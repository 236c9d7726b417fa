// Pure room-state logic: messages keyed by seq, contiguous cursors, missing ranges, edit/delete events.
import type { Message, Reaction } from "../protocol/types";

/** Merge `incoming` into `existing` (both ascending by seq); an incoming message replaces its seq. */
export function mergeBySeq(existing: readonly Message[], incoming: readonly Message[]): Message[] {
  if (!incoming.length) return existing as Message[];
  const bySeq = new Map<number, Message>();
  for (const m of existing) bySeq.set(m.seq, m);
  for (const m of incoming) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * The hello cursor after new seqs arrived: from the previous cursor, move up while the next seq is held.
 * With no previous cursor, the stream's first seq minus one is where this device started.
 */
export function advanceCursor(prev: number | undefined, held: ReadonlySet<number>, firstNew?: number,
  rejoined?: number): number | undefined {
  let cursor = prev ?? (firstNew !== undefined ? firstNew - 1 : undefined);
  // re-added after a removal: the seqs in between are not owed and never come (docs/protocol.md 5, "Added back")
  if (rejoined !== undefined && (cursor === undefined || cursor < rejoined - 1)) cursor = rejoined - 1;
  if (cursor === undefined) return undefined;
  while (held.has(cursor + 1)) cursor++;
  return cursor;
}

/** The seq of the message in a streamed batch that adds `me` to the room (again), if there is one. */
export function rejoinedAt(messages: readonly Message[], me: number): number | undefined {
  const back = messages.find((m) => (m.event?.type === "member_added" || m.event?.type === "member_joined") && m.event.user === me);
  return back?.seq;
}

/** Sub-ranges [a, b] of lo..hi whose seqs are not held, newest first (the order to fetch them in). */
export function missingRanges(lo: number, hi: number, held: ReadonlySet<number>): [number, number][] {
  const out: [number, number][] = [];
  let end: number | null = null;
  for (let s = hi; s >= lo; s--) {
    if (!held.has(s)) {
      end ??= s;
    } else if (end !== null) {
      out.push([s + 1, end]);
      end = null;
    }
  }
  if (end !== null) out.push([lo, end]);
  return out;
}

/** A history request that covers the range [a, b] (at most 100 messages per request). */
export function historyRequestFor([a, b]: [number, number]): { before_seq: number; limit: number } {
  return { before_seq: b + 1, limit: Math.min(100, b - a + 1) };
}

/**
 * A message's reactions after `user` adds or removes `emoji` (docs/protocol.md 3.4): adding what is
 * held or removing what is not changes nothing, so replaying events onto a newer copy ends right.
 */
export function applyReaction(reactions: readonly Reaction[] | undefined, user: number, emoji: string, add: boolean): Reaction[] | undefined {
  const out = (reactions ?? []).map((r) => ({ emoji: r.emoji, users: [...r.users] }));
  const entry = out.find((r) => r.emoji === emoji);
  if (add) {
    if (!entry) out.push({ emoji, users: [user] });
    else if (!entry.users.includes(user)) entry.users.push(user);
  } else if (entry?.users.includes(user)) {
    entry.users = entry.users.filter((u) => u !== user);
    if (!entry.users.length) out.splice(out.indexOf(entry), 1);
  }
  return out.length ? out : undefined;
}

/**
 * Merge `receipt_counts` figures into what a room holds: the newest MAX_COUNTED seqs, figures never going back.
 */
export function mergeCounts(prev: SeqCounts | undefined, others: number, counts: readonly { seq: number; delivered: number; read?: number }[]): SeqCounts {
  const merged = { ...prev?.counts };
  for (const c of counts) {
    const old = merged[c.seq];
    merged[c.seq] = { delivered: Math.max(c.delivered, old?.delivered ?? 0), read: Math.max(c.read ?? 0, old?.read ?? 0) || undefined };
  }
  const kept = Object.keys(merged).map(Number).sort((a, b) => b - a).slice(0, MAX_COUNTED);
  return { others, counts: Object.fromEntries(kept.map((s) => [s, merged[s]!])) };
}

const MAX_COUNTED = 200;

/**
 * Apply message_edited / message_deleted / reaction_added / reaction_removed system events to the
 * messages they target. Returns the changed targets (to store) — only those present in `known`.
 */
export function applyEvents(events: readonly Message[], known: (seq: number) => Message | undefined): Message[] {
  const changed = new Map<number, Message>();
  for (const e of events) {
    const ev = e.event;
    if (e.kind !== "system" || !ev || typeof ev.target !== "number") continue;
    const target = changed.get(ev.target) ?? known(ev.target);
    if (!target) continue;
    if (ev.type === "message_edited" && !target.deleted) {
      changed.set(target.seq, { ...target, body: String(ev.body ?? ""), edited_ts: e.ts });
    } else if (ev.type === "message_deleted") {
      const { body: _b, media: _m, reactions: _r, ...rest } = target;
      changed.set(target.seq, { ...rest, deleted: true, edited_ts: e.ts });
    } else if ((ev.type === "reaction_added" || ev.type === "reaction_removed") && typeof ev.emoji === "string" &&
               typeof ev.by === "number" && !target.deleted) {
      const reactions = applyReaction(target.reactions, ev.by, ev.emoji, ev.type === "reaction_added");
      const { reactions: _old, ...rest } = target;
      changed.set(target.seq, reactions ? { ...rest, reactions } : rest);
    }
  }
  return [...changed.values()];
}

/** The edit and delete actions are offered on one's own stored messages that are not system or deleted. */
export const canActOn = (m: Message, me: number): boolean =>
  m.sender === me && m.seq > 0 && m.kind !== "system" && !m.deleted;

export const MAX_BODY = 16_000;

/** Why an edited text cannot be saved (the server's bounds: 1–16000 characters), or null when it can. */
export function editProblem(body: string): string | null {
  if (!body.trim()) return "A message cannot be empty: delete it instead.";
  if (body.length > MAX_BODY) return `A message has at most ${MAX_BODY} characters.`;
  return null;
}

/** Messages worth a tick (own, not system), and the tick each gets from the other members' cursors. */
export type Tick = "pending" | "sent" | "delivered" | "read";

/** A member's cursors after news of them (a `status` push, a `get_receipts` reply): never going back. */
export function mergeReceipt(prev: { delivered_seq: number; read_seq?: number } | undefined,
  news: { delivered_seq: number; read_seq?: number }): { delivered_seq: number; read_seq?: number } {
  return {
    delivered_seq: Math.max(news.delivered_seq, prev?.delivered_seq ?? 0),
    read_seq: Math.max(news.read_seq ?? 0, prev?.read_seq ?? 0) || undefined,
  };
}

/** Big rooms (over 100 members) report counts per message instead of cursors: `receipt_counts`. */
export interface SeqCounts { others: number; counts: Record<number, { delivered: number; read?: number }> }

export function tickFor(seq: number | undefined, receipts: Record<number, { delivered_seq: number; read_seq?: number }> | undefined,
  counted?: SeqCounts): Tick {
  if (seq === undefined) return "pending";
  const c = counted?.counts[seq];
  if (c && counted.others > 0) {
    if ((c.read ?? 0) >= counted.others) return "read";
    return c.delivered >= counted.others ? "delivered" : "sent";
  }
  const rs = Object.values(receipts ?? {});
  if (!rs.length) return "sent";
  if (rs.every((r) => (r.read_seq ?? 0) >= seq)) return "read";
  if (rs.every((r) => r.delivered_seq >= seq || (r.read_seq ?? 0) >= seq)) return "delivered";
  return "sent";
}

/** What a media message is called in a preview (the room list shows an icon of its kind beside it). */
export const MEDIA_LABEL = { image: "Photo", video: "Video", audio: "Audio", file: "File", encrypted: "Encrypted message" } as const;

/** Does this message count as the room's visible "last message" preview? */
export function previewText(m: Message | undefined, name: (user: number) => string): string {
  if (!m) return "";
  if (m.deleted) return "Message deleted";
  if (m.kind === "system") return describeEvent(m, name);
  if (m.kind !== "text") {
    const label = MEDIA_LABEL[m.kind];
    return m.body ? `${label}: ${m.body}` : label;
  }
  return m.body ?? "";
}

export function describeEvent(m: Message, name: (user: number) => string): string {
  const ev = m.event;
  if (!ev) return "";
  const by = ev.by !== undefined ? name(ev.by) : "someone";
  const user = ev.user !== undefined ? name(ev.user) : "someone";
  switch (ev.type) {
    case "created": return ev.name ? `${by} created the group “${ev.name}”` : "Chat started";
    case "member_added": return `${by} added ${user}`;
    case "member_removed": return `${by} removed ${user}${ev.invites_revoked ? " and revoked the invite links" : ""}`;
    case "member_left": return `${user} left`;
    case "owner_changed": return `${user} is now the owner`;
    case "member_banned": return `${by} banned ${user}`;
    case "member_unbanned": return `${by} unbanned ${user}`;
    case "role_changed": return `${by} made ${user} ${ev.role === "admin" ? "an admin" : "a member"}`;
    case "room_updated":
      if (ev.encrypted === true) return `${by} turned on end-to-end encryption`;
      if (ev.name) return `${by} renamed the group to “${ev.name}”`;
      if (typeof ev.icon === "string") return ev.icon ? `${by} changed the group photo` : `${by} removed the group photo`;
      return `${by} changed the group settings`;
    case "member_joined": return `${user} joined${ev.via === "invite" ? " via an invite link" : ""}`;
    case "message_edited": return `${by} edited a message`;
    case "message_deleted": return `${by} deleted a message`;
    case "reaction_added": return typeof ev.emoji === "string" && ev.emoji ? `${by} reacted ${ev.emoji}` : `${by} reacted to a message`;
    case "reaction_removed": return `${by} removed a reaction`;
    default: return ev.type;
  }
}

/** Events about another message (edits, deletes, reactions) are applied to it, not shown as rows. */
const APPLIED = new Set(["message_edited", "message_deleted", "reaction_added", "reaction_removed"]);
export const isHiddenEvent = (m: Message) => m.kind === "system" && APPLIED.has(m.event?.type ?? "");

/** Start of the day (local time) of a ms timestamp, for day separators. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** Rooms as the room list shows them: the latest message first, then the newest room. */
export function roomsByRecent<R extends { room: number; last_message?: { ts: number } }>(rooms: Record<number, R>): R[] {
  return Object.values(rooms).sort((a, b) => (b.last_message?.ts ?? 0) - (a.last_message?.ts ?? 0) || b.room - a.room);
}

/**
 * Whether live messages deserve the notification sound: one from someone else (not a system event, not an
 * edit) in a room that is not the one in front of the user (`focused`: the open room while the page has
 * focus, else null) and not muted.
 */
export function chimeFor(messages: readonly Message[], me: number, focused: number | null, muted: (room: number) => boolean): boolean {
  return messages.some((m) => m.kind !== "system" && m.sender !== undefined && m.sender !== me && !m.deleted
    && m.room !== focused && !muted(m.room));
}
