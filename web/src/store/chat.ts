// The app's state: the websocket client, the IndexedDB cache and what the screens show, kept in step.
import { ChatClient, ChatError, type ClientOptions, type ConnState } from "../protocol/client";
import type { InvitePreview, Message, Member, PresenceInfo, Profile, PushFrame, RoomInfo, RoomSummary } from "../protocol/types";
import { Cache, type OutboxItem, type RoomRecord } from "./cache";
import { advanceCursor, applyEvents, chimeFor, historyRequestFor, mergeBySeq, missingRanges, mergeCounts, mergeReceipt, rejoinedAt } from "./logic";
import { usersNamedIn } from "./people";
import { CryptoSession } from "../crypto/session";
import { Timeline } from "../crypto/timeline";
import type { CryptoEvent } from "../crypto/machine";
import type { MegolmPayload, RoomPlaintext } from "../crypto/wire";
import type { Reply } from "../protocol/types";
import { sendEncrypted } from "./encryptedSend";

export const PAGE = 50;

export interface RoomView {
  messages: Message[]; // the loaded window, ascending by seq
  loadingOlder: boolean;
  atStart: boolean; // nothing older exists
  members?: Member[];
  info?: RoomInfo;
}

export interface PendingSend extends OutboxItem {
  error?: string;
}

export interface Upload {
  key: string;
  room: number;
  name: string;
  progress: number;
  error?: string;
  abort: () => void;
}

export interface State {
  me: { userId: number; username: string };
  conn: ConnState;
  /** What the browser says of the network (`navigator.onLine` and its online/offline events). */
  network: "online" | "offline";
  rooms: Record<number, RoomRecord>;
  views: Record<number, RoomView>;
  outbox: Record<string, PendingSend>;
  uploads: Record<string, Upload>;
  typing: Record<number, number[]>;
  presence: Record<number, PresenceInfo>;
  profiles: Record<number, Profile>;
  activeRoom: number | null;
  /** room -> the seq of the message the next send answers (the composer shows it above the input) */
  replying: Record<number, number>;
  /** End-to-end encryption: where this device stands, and a counter that moves when its keys/devices do. */
  crypto: { status: CryptoSession["status"]; error: string | null; changes: number };
}

type Listener = () => void;

export function uuid4(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const browserOnline = () => typeof navigator === "undefined" || navigator.onLine !== false;

const RETRYABLE = new Set(["retry", "rate_limited", "timeout", "offline", "internal"]);

const ACK_DELAY_MS = 100;
const PROFILE_RETRY_MS = 30_000;

export class ChatStore {
  state: State;
  readonly client: ChatClient;
  private listeners = new Set<Listener>();
  private cursors = new Map<number, number>();
  private heldAbove = new Map<number, Set<number>>();
  private inflight = new Set<string>();
  private typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private pendingAcks = new Map<number, number>(); // room -> highest seq held and not acked yet
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private listTimer: ReturnType<typeof setTimeout> | null = null;
  private fetchedRooms = new Set<number>();
  private pageVisible = () => typeof document === "undefined" || document.visibilityState === "visible";
  private pageFocused = () => this.pageVisible() && (typeof document === "undefined" || document.hasFocus());
  private profileAsked = new Set<number>(); // asked of the server this session (once each)
  private profileFailed = new Set<number>();
  private profileQueue = new Set<number>();
  private profileTimer: ReturnType<typeof setTimeout> | null = null;
  /** Called for a live message from someone else in a room not in front of the user (notification sound). */
  onChime: (() => void) | null = null;

  private constructor(
    readonly cache: Cache,
    me: State["me"],
    init: { rooms: RoomRecord[]; profiles: Profile[]; outbox: OutboxItem[]; cursors: Map<number, number> },
    clientOptions: Omit<ClientOptions, "cursors" | "onPush" | "onState">,
  ) {
    this.cursors = init.cursors;
    this.state = {
      me, conn: "offline", network: browserOnline() ? "online" : "offline", views: {}, uploads: {}, typing: {}, presence: {},
      activeRoom: null, replying: {}, crypto: { status: "off", error: null, changes: 0 },
      rooms: Object.fromEntries(init.rooms.map((r) => [r.room, r])),
      profiles: Object.fromEntries(init.profiles.map((p) => [p.user, p])),
      outbox: Object.fromEntries(init.outbox.map((o) => [o.client_id, o])),
    };
    this.client = new ChatClient({
      ...clientOptions,
      cursors: async () => new Map(this.cursors),
      onPush: (f) => void this.onPush(f),
      onState: (conn, welcome) => {
        this.set({ conn });
        if (conn === "online") void this.onOnline();
        if (welcome?.device) void this.crypto.start(welcome.device);
      },
    });
    this.crypto = new CryptoSession(me.userId, this.client);
    this.crypto.on((e) => {
      this.bumpCrypto();
      if (e) this.onCryptoEvent(e);
      else if (this.crypto.status === "ready") {
        this.timeline.retry();
        if (this.state.conn === "online") for (const item of Object.values(this.state.outbox)) if (!item.error) void this.trySend(item);
      }
    });
  }

  /** This device's end-to-end encryption (docs/e2ee.md). */
  readonly crypto: CryptoSession;
  /** Encrypted messages as the timeline shows them. */
  readonly timeline = new Timeline(() => this.crypto.machine, () => this.bumpCrypto());

  private bumpCrypto(): void {
    const c = this.state.crypto;
    this.set({ crypto: { status: this.crypto.status, error: this.crypto.error, changes: c.changes + 1 } });
  }

  private onCryptoEvent(e: CryptoEvent): void {
    if (e.type === "keys") this.timeline.retry(e.session_id);
    else if (e.type === "search") this.timeline.searched(e.session_id, e.search);
  }

  static async open(me: State["me"], clientOptions: Omit<ClientOptions, "cursors" | "onPush" | "onState">): Promise<ChatStore> {
    const cache = await Cache.open(`chatd-${me.userId}`);
    const [rooms, profiles, outbox, cursors] = await Promise.all([cache.rooms(), cache.profiles(), cache.outbox(), cache.cursors()]);
    return new ChatStore(cache, me, { rooms, profiles, outbox, cursors }, clientOptions);
  }

  // ------------------------------------------------------------------ subscription (React)
  subscribe = (fn: Listener): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  getState = (): State => this.state;

  private set(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((l) => l());
  }
  private setRoom(room: RoomRecord, persist = true): void {
    if (room.last_message) this.timeline.want([room.last_message]);
    this.set({ rooms: { ...this.state.rooms, [room.room]: room } });
    if (persist) void this.cache.putRoom(room);
  }
  private setView(room: number, patch: Partial<RoomView>): void {
    if (patch.messages) this.timeline.want(patch.messages);
    const prev = this.state.views[room] ?? { messages: [], loadingOlder: false, atStart: false };
    this.set({ views: { ...this.state.views, [room]: { ...prev, ...patch } } });
  }

  start(): void {
    this.client.start();
    if (typeof window !== "undefined") {
      window.addEventListener("online", this.onNetwork);
      window.addEventListener("offline", this.onNetwork);
    }
  }
  stop(): void {
    if (typeof window !== "undefined") {
      window.removeEventListener("online", this.onNetwork);
      window.removeEventListener("offline", this.onNetwork);
    }
    this.client.stop();
    this.cache.close();
    this.crypto.stop();
  }

  /** The browser says the network went or came back: drop the socket at once (it may linger half-dead
   * until a ping times out), or connect at once instead of waiting out the back-off. */
  private onNetwork = (): void => {
    const network = browserOnline() ? "online" : "offline";
    this.set({ network });
    if (network === "offline") this.client.reconnect("the browser is offline");
    else this.client.reconnectNow();
  };

  // ------------------------------------------------------------------ names
  /** The name to show for `user`: display name, else username. One not known yet is asked for (once per
   * session, batched), so a name is never a bare id: "…" shows until the profile arrives. */
  name = (user: number): string => {
    if (user === this.state.me.userId) return "You";
    this.wantProfiles([user]);
    const p = this.state.profiles[user];
    return p?.display_name || p?.username || (this.profileFailed.has(user) ? "unknown user" : "…");
  };

  /** The profile picture's media id of `user`, if they have one we may see. */
  avatarOf = (user: number): string | undefined => {
    this.wantProfiles([user]);
    return this.state.profiles[user]?.avatar;
  };

  /** Fetch the profiles of these users soon (those not asked for yet this session), together. */
  wantProfiles(users: Iterable<number>): void {
    for (const u of users) {
      if (u === this.state.me.userId || this.profileAsked.has(u)) continue;
      this.profileAsked.add(u);
      this.profileQueue.add(u);
    }
    if (!this.profileQueue.size || this.profileTimer) return;
    this.profileTimer = setTimeout(() => {
      this.profileTimer = null;
      const batch = [...this.profileQueue];
      this.profileQueue.clear();
      void this.loadProfiles(batch);
    }, 30);
  }
  roomTitle(room: RoomRecord): string {
    if (room.kind === "group") return room.name ?? "Group";
    return room.peer ? this.name(room.peer) : room.title ?? "Direct chat";
  }

  // ------------------------------------------------------------------ connection
  private async onOnline(): Promise<void> {
    await this.refreshRooms().catch(() => undefined); // a timeout: the cached list stays
    for (const item of Object.values(this.state.outbox)) if (!item.error) void this.trySend(item);
    const peers = Object.values(this.state.rooms).filter((r) => r.kind === "direct" && r.peer).map((r) => r.peer!);
    this.wantProfiles(peers);
    void this.loadPresence(peers);
    const active = this.state.activeRoom;
    if (active !== null) {
      void this.fillWindow(active).catch(() => undefined);
      void this.loadReceipts(active);
    }
  }

  async refreshRooms(): Promise<void> {
    const { rooms } = await this.client.request("list_rooms", {});
    const merged: Record<number, RoomRecord> = {};
    for (const s of rooms) merged[s.room] = this.mergeSummary(s);
    this.timeline.want(rooms.flatMap((s) => (s.last_message ? [s.last_message] : [])));
    this.set({ rooms: merged });
    if (this.state.activeRoom !== null) this.markRead(this.state.activeRoom); // the list's count came after we read
    this.wantProfiles(rooms.flatMap((s) => [...(s.peer ? [s.peer] : []), ...(s.last_message ? usersNamedIn([s.last_message]) : [])]));
    await this.cache.putRooms(Object.values(merged));
    for (const s of rooms) if (s.last_message) await this.storeMessages([s.last_message], false);
  }

  private mergeSummary(s: RoomSummary): RoomRecord {
    const prev = this.state.rooms[s.room];
    return { ...prev, ...s, read_seq: Math.max(s.read_seq, prev?.read_seq ?? 0) };
  }

  private scheduleListRooms(): void {
    if (this.listTimer) return;
    this.listTimer = setTimeout(() => {
      this.listTimer = null;
      void this.refreshRooms().catch(() => undefined);
    }, 100);
  }

  /** Fetch these users' profiles now; resolves to those that could not be fetched for a passing reason
   * (rate-limited, offline), to be asked for again later. */
  async loadProfiles(users: number[]): Promise<number[]> {
    const missing = [...new Set(users)].filter((u) => u !== this.state.me.userId);
    const again: number[] = [];
    await Promise.all(missing.map(async (user) => {
      try {
        const { profile } = await this.client.request("get_profile", { user });
        this.profileFailed.delete(user);
        this.putProfile(profile);
      } catch (err) {
        // not_found (a disabled account): say so instead of "…"; rate-limited or offline: ask again later
        if (err instanceof ChatError && err.code === "not_found") {
          this.profileFailed.add(user);
          this.set({ profiles: { ...this.state.profiles } }); // re-render the names
        } else {
          again.push(user);
          setTimeout(() => this.profileAsked.delete(user), PROFILE_RETRY_MS); // the next render asks again
        }
      }
    }));
    return again;
  }

  private putProfile(p: Profile): void {
    const prev = this.state.profiles[p.user];
    // fields left out are hidden or cleared now: the reply is the whole profile as we may see it
    const merged: Profile = { ...p, ...(prev?.username && !p.username ? { username: prev.username } : {}) };
    this.set({ profiles: { ...this.state.profiles, [p.user]: merged } });
    void this.cache.putProfile(merged);
  }

  async loadPresence(users: number[]): Promise<void> {
    const ids = [...new Set(users)].slice(0, 100);
    if (!ids.length) return;
    try {
      const { users: infos } = await this.client.request("get_presence", { users: ids });
      const presence = { ...this.state.presence };
      for (const p of infos) presence[p.user] = p;
      this.set({ presence });
    } catch {
      /* presence unavailable */
    }
  }

  // ------------------------------------------------------------------ pushes
  private async onPush(f: PushFrame): Promise<void> {
    switch (f.t) {
      case "msgs": return this.onMsgs(f.messages, f.backlog);
      case "status": {
        const room = this.state.rooms[f.room];
        if (!room) return;
        this.setRoom({ ...room, receipts: { ...room.receipts, [f.user]: mergeReceipt(room.receipts?.[f.user], f) } });
        return;
      }
      case "receipt_counts": {
        const room = this.state.rooms[f.room];
        if (room) this.setRoom({ ...room, counted: mergeCounts(room.counted, f.others, f.counts) });
        return;
      }
      case "counts": {
        const room = this.state.rooms[f.room];
        if (room) this.setRoom({ ...room, unread: f.unread, mentions: f.mentions, muted: f.muted });
        return;
      }
      case "typing_changed": return this.onTyping(f.room, f.user, f.active);
      case "to_device": return this.crypto.receive(f.messages);
      case "devices_changed": return this.crypto.machine?.devicesChanged(f.user);
      case "presence_changed":
        this.set({ presence: { ...this.state.presence, [f.user]: { user: f.user, online: f.online, last_seen: f.last_seen } } });
        return;
      default:
        return;
    }
  }

  private onTyping(room: number, user: number, active: boolean): void {
    const key = `${room}:${user}`;
    clearTimeout(this.typingTimers.get(key));
    const others = (this.state.typing[room] ?? []).filter((u) => u !== user);
    this.set({ typing: { ...this.state.typing, [room]: active ? [...others, user] : others } });
    if (active) this.typingTimers.set(key, setTimeout(() => this.onTyping(room, user, false), 8000));
  }

  /** Acks are cumulative (docs/protocol.md, "Acks"): a backlog batch is acked at once (the next one waits
   * for it), live messages within ACK_DELAY_MS, one ack per room for whatever arrived meanwhile. */
  private ackLater(room: number, seq: number, now: boolean): void {
    this.pendingAcks.set(room, Math.max(this.pendingAcks.get(room) ?? 0, seq));
    if (now) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), ACK_DELAY_MS);
  }

  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    for (const [room, seq] of this.pendingAcks) this.client.notify("ack", { room, seq });
    this.pendingAcks.clear();
  }

  private async onMsgs(messages: Message[], backlog: boolean): Promise<void> {
    const focused = this.pageFocused() ? this.state.activeRoom : null;
    if (!backlog && chimeFor(messages, this.state.me.userId, focused, (room) => this.state.rooms[room]?.muted === true)) this.onChime?.();
    this.wantProfiles(usersNamedIn(messages));
    await this.storeMessages(messages, true);
    const top = new Map<number, number>();
    for (const m of messages) top.set(m.room, Math.max(top.get(m.room) ?? 0, m.seq));
    for (const [room, seq] of top) {
      this.ackLater(room, seq, backlog); // after the cache holds them
      const r = this.state.rooms[room];
      if (!r) {
        this.scheduleListRooms();
        continue;
      }
      const last = messages.filter((m) => m.room === room).at(-1)!;
      const joinedNow = messages.some((m) => m.room === room && m.kind === "system" &&
        ["member_added", "member_joined", "member_removed", "member_left", "member_banned", "room_updated"].includes(m.event?.type ?? ""));
      if (joinedNow) this.scheduleListRooms();
      const icon = messages.filter((m) => m.room === room && m.event?.type === "room_updated" && typeof m.event.icon === "string").at(-1)?.event?.icon;
      const iconed = typeof icon === "string" ? { ...r, icon: icon || undefined } : r; // "" cleared it
      const turnedOn = messages.some((m) => m.room === room && m.event?.type === "room_updated" && m.event.encrypted === true);
      const withIcon = turnedOn && !iconed.encrypted ? { ...iconed, encrypted: true } : iconed;
      if (seq >= r.last_seq) this.setRoom({ ...withIcon, last_seq: seq, last_message: last });
      else if (withIcon !== r) this.setRoom(withIcon);
      this.typingStopFor(room, messages);
    }
    const active = this.state.activeRoom;
    if (active !== null && top.has(active)) this.markRead(active);
  }

  private typingStopFor(room: number, messages: Message[]): void {
    for (const m of messages) if (m.room === room && m.sender !== undefined && this.state.typing[room]?.includes(m.sender)) this.onTyping(room, m.sender, false);
  }

  /** Store messages in the cache and the loaded views; `stream`: from msgs (moves hello cursors). */
  private async storeMessages(messages: Message[], stream: boolean): Promise<void> {
    if (!messages.length) return;
    const byRoom = new Map<number, Message[]>();
    for (const m of messages) byRoom.set(m.room, [...(byRoom.get(m.room) ?? []), m]);
    const changed: Message[] = [];
    for (const [room, list] of byRoom) {
      const view = this.state.views[room];
      const loaded = new Map(view?.messages.map((m) => [m.seq, m]));
      const inFrame = new Map(list.map((m) => [m.seq, m]));
      const targets = list.filter((m) => m.event?.target !== undefined).map((m) => m.event!.target as number);
      const fromCache = new Map<number, Message>();
      for (const t of targets) if (!loaded.has(t) && !inFrame.has(t)) {
        const c = await this.cache.getMessage(room, t);
        if (c) fromCache.set(t, c);
      }
      const edits = applyEvents(list, (s) => inFrame.get(s) ?? loaded.get(s) ?? fromCache.get(s));
      const all = mergeBySeq(list, edits);
      changed.push(...all);
      const now = this.state.views[room]; // (not `view`: messages may have come in while the cache answered)
      if (now) this.setView(room, { messages: mergeBySeq(now.messages, all.filter((m) => m.seq >= (now.messages[0]?.seq ?? 0) || loaded.has(m.seq))) });
      this.noteHeld(room, list.map((m) => m.seq), stream ? list[0]!.seq : undefined,
        stream ? rejoinedAt(list, this.state.me.userId) : undefined);
    }
    await this.cache.putMessages(changed);
    await this.persistCursors([...byRoom.keys()]);
  }

  private noteHeld(room: number, seqs: number[], firstStreamed?: number, rejoined?: number): void {
    const cur = this.cursors.get(room);
    if (cur === undefined && firstStreamed === undefined) return; // no starting point yet (history only)
    const held = this.heldAbove.get(room) ?? new Set<number>();
    for (const s of seqs) if (s > (cur ?? -1)) held.add(s);
    const next = advanceCursor(cur, held, firstStreamed, rejoined);
    if (next === undefined) return;
    for (const s of held) if (s <= next) held.delete(s);
    this.heldAbove.set(room, held);
    this.cursors.set(room, next);
  }

  private async persistCursors(rooms: number[]): Promise<void> {
    for (const r of rooms) {
      const c = this.cursors.get(r);
      if (c !== undefined) await this.cache.setCursor(r, c);
    }
  }

  // ------------------------------------------------------------------ reading a room
  /** Show `room`: the cached window at once, then whatever the server must fill in. */
  async openRoom(room: number): Promise<void> {
    this.set({ activeRoom: room });
    if (!this.state.views[room]) {
      const cached = await this.cache.latest(room, PAGE);
      const r = this.state.rooms[room];
      this.setView(room, { messages: cached, atStart: r?.floor !== undefined && (cached[0]?.seq ?? Infinity) <= r.floor });
    }
    if (!this.fetchedRooms.has(room)) {
      this.fetchedRooms.add(room);
      void this.loadRoomInfo(room);
    }
    if (this.state.conn === "online") {
      void this.loadReceipts(room);
      await this.fillWindow(room).catch(() => undefined); // again when online
    }
    this.markRead(room);
  }

  /**
   * Where the other members stand (get_receipts), so the ticks are right on a device that was not
   * connected when the status pushes went out. Rooms of up to 100 members; bigger ones report counts.
   */
  async loadReceipts(room: number): Promise<void> {
    try {
      const { members, counts, others } = await this.client.request("get_receipts", { room });
      const r = this.state.rooms[room];
      if (r && counts.length) this.setRoom({ ...r, counted: mergeCounts(r.counted, others, counts) });
      if (!r || !members.length) return;
      const receipts = { ...r.receipts };
      for (const m of members) receipts[m.user] = mergeReceipt(receipts[m.user], m);
      this.setRoom({ ...r, receipts });
    } catch {
      /* offline or no longer a member: the ticks stay as they were */
    }
  }

  /**
   * Message `seq` of `room` from wherever it is held: the loaded view, the cache, else the server (a
   * history page that ends at it). Undefined when it cannot be read (deleted rooms, before one joined).
   */
  async findMessage(room: number, seq: number): Promise<Message | undefined> {
    const loaded = this.state.views[room]?.messages.find((m) => m.seq === seq) ?? await this.cache.getMessage(room, seq);
    if (loaded) return loaded;
    try {
      const page = await this.client.request("history", { room, before_seq: seq + 1, limit: 1 });
      const found = page.messages.find((m) => m.seq === seq);
      if (found) await this.cache.putMessages([found]);
      return found;
    } catch {
      return undefined;
    }
  }

  /** Load the window down from `seq` so the view can scroll to it (a reply's original, say). */
  async loadFrom(room: number, seq: number): Promise<void> {
    const view = this.state.views[room];
    const first = view?.messages[0]?.seq;
    if (!view || first === undefined || seq >= first) return;
    const lo = Math.max(seq, first - 10 * PAGE); // far back: as much as ten pages
    const cached = await this.cache.range(room, lo, first - 1);
    this.setView(room, { messages: mergeBySeq(this.state.views[room]!.messages, cached) });
    await this.fetchRange(room, lo, first - 1).catch(() => undefined);
  }

  closeRoom(): void {
    this.set({ activeRoom: null });
  }

  async loadRoomInfo(room: number): Promise<RoomInfo | undefined> {
    try {
      const { room: info } = await this.client.request("get_room", { room });
      const profiles = { ...this.state.profiles };
      for (const m of info.members) profiles[m.user] = { ...profiles[m.user], user: m.user, username: m.username };
      this.set({ profiles });
      this.setView(room, { members: info.members, info });
      const r = this.state.rooms[room];
      if (r) this.setRoom({ ...r, members: info.members.length, name: info.name ?? r.name, icon: info.icon });
      return info;
    } catch {
      this.fetchedRooms.delete(room);
      return undefined;
    }
  }

  /** Ask the server only for what the cache lacks of the newest page. */
  private async fillWindow(room: number): Promise<void> {
    const r = this.state.rooms[room];
    const view = this.state.views[room];
    if (!r || !view) return;
    const top = Math.max(r.last_seq, view.messages.at(-1)?.seq ?? 0);
    const lo = Math.max(r.floor ?? 1, top - PAGE + 1, view.messages.length >= PAGE ? view.messages[0]!.seq : 1);
    await this.fetchRange(room, lo, top);
  }

  /** Older messages above the loaded window: from the cache, and the gaps from the server. */
  async loadOlder(room: number): Promise<void> {
    const view = this.state.views[room];
    const r = this.state.rooms[room];
    if (!view || !r || view.loadingOlder || view.atStart) return;
    const first = view.messages[0]?.seq ?? r.last_seq + 1;
    const floor = r.floor ?? 1;
    if (first <= floor) return this.setView(room, { atStart: true });
    this.setView(room, { loadingOlder: true });
    try {
      const lo = Math.max(floor, first - PAGE);
      const cached = await this.cache.range(room, lo, first - 1);
      this.setView(room, { messages: mergeBySeq(this.state.views[room]!.messages, cached) });
      await this.fetchRange(room, lo, first - 1);
    } finally {
      const v = this.state.views[room]!;
      const f = this.state.rooms[room]?.floor;
      this.setView(room, { loadingOlder: false, atStart: f !== undefined && (v.messages[0]?.seq ?? Infinity) <= f });
    }
  }

  private async fetchRange(room: number, lo: number, hi: number): Promise<void> {
    if (hi < lo) return;
    const held = new Set((await this.cache.range(room, lo, hi)).map((m) => m.seq));
    for (const range of missingRanges(lo, hi, held)) {
      const r = this.state.rooms[room];
      if (r?.floor !== undefined && range[1] < r.floor) break;
      const page = await this.client.request("history", { room, ...historyRequestFor(range) });
      await this.cache.putMessages(page.messages);
      this.noteHeld(room, page.messages.map((m) => m.seq));
      const view = this.state.views[room]; // read after the awaits: a message stored meanwhile stays
      if (view) this.setView(room, { messages: mergeBySeq(view.messages, page.messages) });
      if (!page.has_more) {
        const rr = this.state.rooms[room];
        const floor = page.messages[0]?.seq ?? range[1] + 1;
        if (rr) this.setRoom({ ...rr, floor });
        break;
      }
    }
  }

  markRead(room: number): void {
    const r = this.state.rooms[room];
    const view = this.state.views[room];
    if (!r || !view || !this.pageVisible() || this.state.activeRoom !== room) return;
    const seq = Math.max(view.messages.at(-1)?.seq ?? 0, 0);
    if (seq > r.read_seq || r.unread > 0) {
      this.flushAcks(); // delivered before read: one status for the sender, not read ahead of delivered
      this.client.notify("read", { room, seq: Math.max(seq, r.read_seq) });
      this.setRoom({ ...r, read_seq: Math.max(seq, r.read_seq), unread: 0, mentions: 0 });
    }
  }

  // ------------------------------------------------------------------ sending
  async sendText(room: number, body: string): Promise<void> {
    await this.enqueue({ client_id: uuid4(), room, body, kind: "text", created: Date.now() });
  }

  /** Answer message `seq` with the next send in `room` (null: no longer). */
  replyTo(room: number, seq: number | null): void {
    const { [room]: _old, ...rest } = this.state.replying;
    this.set({ replying: seq === null ? rest : { ...rest, [room]: seq } });
  }

  async enqueue(item: OutboxItem): Promise<void> {
    const reply = this.state.replying[item.room];
    if (reply !== undefined && item.reply_to === undefined) {
      item = { ...item, reply_to: reply };
      this.replyTo(item.room, null);
    }
    this.set({ outbox: { ...this.state.outbox, [item.client_id]: item } });
    await this.cache.putOutbox(item);
    this.client.notify("typing", { room: item.room, active: false });
    void this.trySend(item);
  }

  discard(clientId: string): void {
    const { [clientId]: _gone, ...rest } = this.state.outbox;
    this.set({ outbox: rest });
    void this.cache.deleteOutbox(clientId);
  }

  retrySend(clientId: string): void {
    const item = this.state.outbox[clientId];
    if (!item) return;
    const { error: _e, ...clean } = item;
    this.set({ outbox: { ...this.state.outbox, [clientId]: clean } });
    void this.trySend(clean);
  }

  /** The `send` of an item in an encrypted room: its key shared with every current member device first, sent
   * again for a new member list when the server says the members changed (src/store/encryptedSend.ts). */
  private async encryptedSend(item: OutboxItem): Promise<{ sent: Reply<"send">; content: RoomPlaintext; encrypted: MegolmPayload }> {
    const machine = this.crypto.machine;
    if (!machine) throw new ChatError("offline", "encryption is not ready on this device yet");
    if (item.media && !item.secret) throw new ChatError("bad_request", "This file was not encrypted: send it again.");
    const content: RoomPlaintext = {
      room: item.room, kind: item.kind, body: item.body,
      ...(item.reply_to !== undefined ? { reply_to: item.reply_to } : {}), ...(item.secret ? { media: item.secret } : {}),
    };
    const { sent, encrypted } = await sendEncrypted(item.room, {
      members: async () => {
        const info = await this.loadRoomInfo(item.room); // the members as they are now: a key for each of their devices
        if (!info) throw new ChatError("retry", "could not load the members of this chat");
        return { users: info.members.map((m) => m.user), seq: info.members_seq };
      },
      encrypt: (members) => machine.encrypt(item.room, members, content),
      send: (encrypted, members_seq) => this.client.request("send", {
        room: item.room, client_id: item.client_id, body: "", kind: "encrypted", encrypted, reply_to: item.reply_to, members_seq,
        media: item.secret ? { id: item.secret.id } : undefined, // in clear: who may download it (the bytes are ciphertext)
      }, 10_000),
    });
    return { sent, content, encrypted };
  }

  private async trySend(item: OutboxItem, attempt = 0): Promise<void> {
    if (this.inflight.has(item.client_id)) return;
    this.inflight.add(item.client_id);
    try {
      const e2ee = this.state.rooms[item.room]?.encrypted ? await this.encryptedSend(item) : null;
      const sent = e2ee?.sent ?? await this.client.request("send", {
        room: item.room, client_id: item.client_id, body: item.body,
        kind: item.kind === "text" ? undefined : item.kind, media: item.media, reply_to: item.reply_to,
      }, 10_000);
      const msg: Message = e2ee ? {
        room: sent.room, seq: sent.seq, ts: sent.ts, kind: "encrypted", sender: this.state.me.userId,
        client_id: sent.client_id, reply_to: item.reply_to, encrypted: e2ee.encrypted, media: item.secret ? item.preview : undefined,
      } : {
        room: sent.room, seq: sent.seq, ts: sent.ts, kind: item.kind, sender: this.state.me.userId,
        client_id: sent.client_id, body: item.body || undefined, media: item.preview, reply_to: item.reply_to,
      };
      if (e2ee) this.timeline.know(msg, e2ee.content);
      if (sent.duplicate) {
        const stored = await this.cache.getMessage(sent.room, sent.seq);
        if (stored) Object.assign(msg, stored);
      }
      this.inflight.delete(item.client_id);
      this.discard(item.client_id);
      await this.storeMessages([msg], false);
      const r = this.state.rooms[item.room];
      if (r && sent.seq >= r.last_seq) this.setRoom({ ...r, last_seq: sent.seq, last_message: msg, read_seq: Math.max(r.read_seq, sent.seq) });
    } catch (err) {
      this.inflight.delete(item.client_id);
      const e = err instanceof ChatError ? err : new ChatError("internal", String(err));
      if (!this.state.outbox[item.client_id]) return;
      if (RETRYABLE.has(e.code)) {
        // offline: the next `online` resends everything; otherwise back off and send again
        if (e.code === "offline") return;
        const delay = e.retryAfter ? e.retryAfter * 1000 : Math.min(30_000, 500 * 2 ** attempt);
        setTimeout(() => void this.trySend(item, attempt + 1), delay);
      } else {
        this.set({ outbox: { ...this.state.outbox, [item.client_id]: { ...item, error: e.message } } });
      }
    }
  }

  // ------------------------------------------------------------------ edit, delete
  /**
   * Replace the body of one's own message. Resolves on the server's `ok`; the view changes when the
   * `message_edited` event comes back (to every device alike). Rejects with the ChatError to show.
   */
  async editMessage(room: number, seq: number, body: string): Promise<void> {
    await this.client.request("edit", { room, seq, body });
  }

  /** Delete a message for everyone; like editMessage, the `message_deleted` event updates the views. */
  async deleteMessage(room: number, seq: number): Promise<void> {
    await this.client.request("delete", { room, seq });
  }

  /** "Delete for me": hide the message on this device (the others and one's other devices keep it). */
  hideMessage(room: number, seq: number): void {
    const r = this.state.rooms[room];
    if (r) this.setRoom({ ...r, hidden: [...new Set([...(r.hidden ?? []), seq])] });
  }

  /**
   * Put `emoji` on message `seq`, or take it off when this user has it there. Resolves on the server's
   * `ok`; the view changes with the reaction event, as for edits. Rejects with the ChatError to show.
   */
  async toggleReaction(room: number, seq: number, emoji: string): Promise<void> {
    const m = this.state.views[room]?.messages.find((x) => x.seq === seq);
    const mine = m?.reactions?.some((r) => r.emoji === emoji && r.users.includes(this.state.me.userId)) ?? false;
    await this.client.request(mine ? "unreact" : "react", { room, target: seq, emoji });
  }

  setUpload(up: Upload | null, key: string): void {
    const { [key]: _old, ...rest } = this.state.uploads;
    this.set({ uploads: up ? { ...rest, [key]: up } : rest });
  }

  typing(room: number, active: boolean): void {
    this.client.notify("typing", { room, active });
  }

  // ------------------------------------------------------------------ rooms
  /** `encrypted`: end-to-end encrypted (on an existing plain direct chat, it turns encryption on). */
  async openDirect(user: string | number, encrypted = false): Promise<number> {
    const { room } = await this.client.request("open_direct", { user, ...(encrypted ? { encrypted } : {}) });
    await this.adoptRoom(room);
    return room.room;
  }

  async createGroup(name: string, members: string[], encrypted = false): Promise<number> {
    const { room } = await this.client.request("create_group", { name, members, ...(encrypted ? { encrypted } : {}) });
    await this.adoptRoom(room);
    return room.room;
  }

  /** Turn end-to-end encryption on for good (docs/e2ee.md §3: it cannot be turned off). */
  async enableEncryption(room: number): Promise<void> {
    await this.client.request("update_room", { room, encrypted: true });
    const r = this.state.rooms[room];
    if (r) this.setRoom({ ...r, encrypted: true });
  }

  /** The group an invite code leads to; rejects with the error a join would get (expired, revoked...). */
  async previewInvite(code: string): Promise<InvitePreview> {
    return await this.client.request("preview_invite", { code });
  }

  async join(code: string): Promise<void> {
    await this.client.request("join", { code });
    await this.refreshRooms();
  }

  private async adoptRoom(info: RoomInfo): Promise<void> {
    const profiles = { ...this.state.profiles };
    for (const m of info.members) profiles[m.user] = { ...profiles[m.user], user: m.user, username: m.username };
    this.set({ profiles });
    if (!this.state.rooms[info.room]) {
      const peer = info.kind === "direct" ? info.members.find((m) => m.user !== this.state.me.userId)?.user : undefined;
      this.setRoom({
        room: info.room, kind: info.kind, name: info.name, last_seq: info.last_seq, delivered_seq: 0, read_seq: 0,
        unread: 0, member: true, peer, members: info.members.length, icon: info.icon, encrypted: info.encrypted,
      });
    }
    this.setView(info.room, { members: info.members, info });
    this.fetchedRooms.add(info.room);
    void this.refreshRooms().catch(() => undefined);
    const peer = this.state.rooms[info.room]?.peer;
    if (peer) {
      void this.loadProfiles([peer]);
      void this.loadPresence([peer]);
    }
  }
}
