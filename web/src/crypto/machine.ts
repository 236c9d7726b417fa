// The crypto machine (docs/e2ee.md): this device's account and keys, Olm to-device messages, Megolm room
// sessions shared before the message they protect, the search for a missing key (to-device stream, then the
// backup, then our own verified devices), the key backup and SAS verification. The chat store calls it; it
// calls the server through a CryptoTransport and reports what changed to its listeners.
import { backupAuth, backupKeys, formatRecoveryKey, matchesAuth, newRecoveryKey, openEntry, parseRecoveryKey, sealEntry, type BackupKeys } from "./backup";
import { DeviceRegistry, type DeviceRecord } from "./devices";
import { fromBase64, toBase64, uuid } from "./encoding";
import { GroupSessions, type InboundRecord } from "./megolm";
import { Account, GroupInbound } from "./olm";
import { DropError, OlmChannel, WedgedError, type Me } from "./olmChannel";
import { signDeviceKeys, signOneTimeKey, type OneTimeKey } from "./statements";
import type { SealedStore } from "./store";
import { Verifications, type VerificationView } from "./verification";
import type { CryptoTransport, MegolmPayload, OlmPlaintext, RoomPlaintext, ToDeviceIn, ToDeviceOut } from "./wire";

export const ONE_TIME_KEYS = 50; // kept on the server
const KINDS = new Set(["text", "image", "video", "audio", "file"]);

/** A room's members as `get_room` gave them: the users, and the `members_seq` of that list. */
export interface RoomMembers {
  users: number[];
  seq: number;
}

export type KeySearch = "waiting" | "backup" | "requested" | "failed";

export type DecryptResult =
  | { state: "ok"; content: RoomPlaintext; device: string; verified: boolean }
  | { state: "pending"; search: KeySearch }
  | { state: "failed"; reason: string };

export type CryptoEvent =
  | { type: "keys"; room: number; session_id: string }
  | { type: "search"; room: number; session_id: string; search: KeySearch }
  | { type: "devices"; user: number }
  | { type: "verification"; view: VerificationView }
  | { type: "backup" };

export interface MachineOptions {
  me: Me;
  store: SealedStore;
  transport: CryptoTransport;
  now?: () => number;
  /** How long a missing key may take on the to-device stream before the backup is asked. */
  streamWaitMs?: number;
  /** How long our other devices get to answer a room_key_request. */
  requestWaitMs?: number;
  log?: (message: string) => void;
}

interface Meta {
  published: boolean;
  /** The highest to-device message id handled: a redelivered one (no ack reached the server) is skipped. */
  to_device_upto?: number;
  server_otks: number;
  backup?: { version: number; recovery_key: string };
}

export class CryptoMachine {
  readonly verifications: Verifications;
  private readonly listeners = new Set<(e: CryptoEvent) => void>();
  private readonly searches = new Map<string, KeySearch>();
  private backupKeysCache: BackupKeys | null = null;
  private readonly log: (m: string) => void;

  private constructor(
    private readonly opts: MachineOptions,
    private readonly meta: Meta,
    private readonly olm: OlmChannel,
    readonly devices: DeviceRegistry,
    private readonly groups: GroupSessions,
  ) {
    this.log = opts.log ?? ((m) => console.warn(`[crypto] ${m}`));
    this.verifications = new Verifications({
      me: { ...opts.me, signingKey: this.signingKey },
      send: async (user, device, type, content) => {
        await this.sendOlm([await this.deviceOf(user, device)].filter((d): d is DeviceRecord => !!d), type, () => content);
      },
      signingKeyOf: (user, device) => this.devices.get(user, device)?.signing_key,
      markVerified: async (user, device, key) => {
        const ok = await this.devices.setVerified(user, device, key);
        if (ok) this.emit({ type: "devices", user });
        return ok;
      },
      changed: (view) => this.emit({ type: "verification", view }),
    });
  }

  /** Load this device's store, or make a new account in it. */
  static async open(opts: MachineOptions): Promise<CryptoMachine> {
    const { store } = opts;
    const pickle = await store.get<string>("account", "account");
    const account = pickle ? Account.unpickle(store.pickleKey, pickle) : Account.create();
    const meta = (await store.get<Meta>("meta", "meta")) ?? { published: false, server_otks: 0 };
    const devices = new DeviceRegistry(store);
    const olm = new OlmChannel(opts.me, account, store, opts.transport);
    const groups = new GroupSessions(store, opts.now);
    if (!pickle) await olm.saveAccount();
    await Promise.all([devices.load(), olm.load(), groups.load()]);
    return new CryptoMachine(opts, meta, olm, devices, groups);
  }

  get identityKey(): string {
    return this.olm.account.identityKey;
  }

  get signingKey(): string {
    return this.olm.account.signingKey;
  }

  get me(): Me {
    return this.opts.me;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  on(listener: (e: CryptoEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: CryptoEvent): void {
    for (const l of this.listeners) l(e);
  }

  private async saveMeta(): Promise<void> {
    await this.opts.store.put("meta", "meta", this.meta);
  }

  // ---- keys (§1) ----

  /** Publish the device keys once, and top the one-time keys up to ONE_TIME_KEYS, with a fallback key. */
  async publishKeys(): Promise<void> {
    const { user, device } = this.opts.me;
    const account = this.olm.account;
    const missing = ONE_TIME_KEYS - this.meta.server_otks;
    if (missing > 0) account.generateOneTimeKeys(missing);
    const one_time_keys: OneTimeKey[] = Object.entries(account.oneTimeKeys()).map(([id, key]) => signOneTimeKey(account, user, device, id, key));
    if (!account.unpublishedFallbackKey() && !this.meta.published) account.generateFallbackKey();
    const fb = account.unpublishedFallbackKey();
    if (this.meta.published && !one_time_keys.length && !fb) return;
    const counts = await this.opts.transport.uploadKeys({
      device_keys: this.meta.published ? undefined : signDeviceKeys(account, user, device),
      one_time_keys: one_time_keys.length ? one_time_keys : undefined,
      fallback_key: fb ? signOneTimeKey(account, user, device, fb.id, fb.key) : undefined,
    });
    account.markKeysAsPublished();
    this.meta.published = true;
    this.meta.server_otks = counts.one_time_keys;
    await this.olm.saveAccount();
    await this.saveMeta();
  }

  /** The server said how many one-time keys it holds for us (key_counts). */
  async keyCounts(oneTimeKeys: number): Promise<void> {
    this.meta.server_otks = oneTimeKeys;
    if (oneTimeKeys < ONE_TIME_KEYS / 2) await this.publishKeys();
  }

  /** A devices_changed push: ask again before the next key goes out (and so rotate where they changed). */
  devicesChanged(user: number): void {
    this.devices.markStale(user);
    this.emit({ type: "devices", user });
  }

  /** After a reconnect: devices_changed pushes may have been missed, so every list is asked again when used. */
  reconnected(): void {
    this.devices.markAllStale();
  }

  /** Make sure we hold the current device lists of `users`. */
  async refreshDevices(users: number[], force = false): Promise<void> {
    const ask = [...new Set(users)].filter((u) => force || !this.devices.known(u));
    if (!ask.length) return;
    const infos = await this.opts.transport.queryKeys(ask);
    const diffs = await this.devices.update(ask, infos);
    for (const [user, d] of diffs) if (d.added.length || d.removed.length || d.changed.length) this.emit({ type: "devices", user });
  }

  private async deviceOf(user: number, device: string): Promise<DeviceRecord | undefined> {
    if (!this.devices.get(user, device)) await this.refreshDevices([user], true);
    return this.devices.get(user, device);
  }

  /** Users with a device whose keys changed: the banner names them. */
  identityWarnings(): number[] {
    return this.devices.changedUsers();
  }

  // ---- to-device (§2) ----

  /** Encrypt one plaintext per device (opening sessions where needed) and send them in one send_to_device. */
  private async sendOlm(targets: DeviceRecord[], type: string, content: (d: DeviceRecord) => Record<string, unknown>, forceNew = false): Promise<void> {
    if (!targets.length) return;
    await this.olm.ensureSessions(targets, forceNew);
    const out: ToDeviceOut[] = [];
    for (const d of targets) {
      const m = await this.olm.encrypt(d, type, content(d));
      if (m) out.push(m);
      else this.log(`no session with device ${d.device} of user ${d.user} (it has no keys left): it gets no ${type}`);
    }
    for (let i = 0; i < out.length; i += 1000) await this.opts.transport.sendToDevice(uuid(), out.slice(i, i + 1000));
  }

  /** Handle a `to_device` push; each message once, in order. A bad one is logged and dropped, never thrown. */
  async receiveToDevice(messages: ToDeviceIn[]): Promise<void> {
    for (const msg of messages) {
      if (msg.id <= (this.meta.to_device_upto ?? 0)) continue; // handled before the ack was lost
      try {
        const sender = await this.deviceOf(msg.sender, msg.sender_device);
        if (!sender) throw new DropError(`device ${msg.sender_device} of user ${msg.sender} published no keys`);
        const p = await this.olm.decrypt(msg, sender);
        await this.handlePlaintext(sender, p);
      } catch (err) {
        if (err instanceof WedgedError) await this.unwedge(msg.sender, msg.sender_device);
        this.log(`dropped to-device message ${msg.id}: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.meta.to_device_upto = msg.id;
    }
    await this.saveMeta();
  }

  private readonly unwedged = new Map<string, number>();

  /** A message no session decrypts: open a new session to that device and send a `dummy` on it (once an hour). */
  private async unwedge(user: number, device: string): Promise<void> {
    const key = `${user}:${device}`;
    if ((this.unwedged.get(key) ?? 0) > this.now() - 3600_000) return;
    this.unwedged.set(key, this.now());
    const d = this.devices.get(user, device);
    if (d) await this.sendOlm([d], "dummy", () => ({}), true).catch(() => undefined);
  }

  private async handlePlaintext(sender: DeviceRecord, p: OlmPlaintext): Promise<void> {
    const c = p.content;
    const str = (k: string) => (typeof c[k] === "string" ? (c[k]) : "");
    const own = sender.user === this.opts.me.user;
    switch (p.type) {
      case "room_key": {
        const room = c.room;
        if (typeof room !== "number" || !str("session_id") || !str("session_key")) throw new DropError("room_key without room, session_id or session_key");
        let session: GroupInbound;
        try {
          session = GroupInbound.fromSessionKey(str("session_key"));
        } catch {
          throw new DropError("room_key: the session key does not load");
        }
        if (session.sessionId !== str("session_id")) {
          session.free();
          throw new DropError("room_key: session_id is not the key's");
        }
        await this.addInbound(session, { room, session_id: str("session_id"), sender_key: sender.identity_key, sender: sender.user, sender_device: sender.device });
        return;
      }
      case "forwarded_room_key": {
        const room = c.room;
        if (!own || !sender.verified) throw new DropError("forwarded_room_key from a device that is not one of our verified devices");
        if (typeof room !== "number" || !str("session_id") || !str("session_key") || !str("sender_key")) throw new DropError("forwarded_room_key is missing a field");
        await this.importExported(room, str("session_id"), str("sender_key"), str("session_key"));
        return;
      }
      case "room_key_request": {
        if (!own || !sender.verified) throw new DropError("room_key_request from a device that is not one of our verified devices");
        const room = c.room;
        const have = typeof room === "number" ? this.groups.getInbound(room, str("session_id")) : undefined;
        if (!have || have.record.sender_key !== str("sender_key")) return; // we do not have it: no answer
        const s = have.session;
        await this.sendOlm([sender], "forwarded_room_key", () => ({
          room, session_id: have.record.session_id, session_key: s.exportAt(s.firstKnownIndex), sender_key: have.record.sender_key,
        }));
        return;
      }
      case "dummy":
        return;
      default:
        if (p.type.startsWith("verification.")) await this.verifications.receive(sender.user, sender.device, p.type, c);
    }
  }

  /** Keep a new inbound session, back it up, and tell whoever waits for it. */
  private async addInbound(session: GroupInbound, meta: Omit<InboundRecord, "pickle">): Promise<void> {
    if (meta.backed_up !== undefined && meta.backed_up !== this.meta.backup?.version) delete meta.backed_up;
    if (!(await this.groups.addInbound(session, meta))) return;
    this.searches.delete(`${meta.room}|${meta.session_id}`);
    this.emit({ type: "keys", room: meta.room, session_id: meta.session_id });
    await this.backupPending().catch((err: unknown) => this.log(`backup upload failed: ${String(err)}`));
  }

  /** `backedUp`: the backup version it came from (it need not be uploaded there again). */
  private async importExported(room: number, sessionId: string, senderKey: string, exported: string, backedUp?: number): Promise<void> {
    let session: GroupInbound;
    try {
      session = GroupInbound.fromExported(exported);
    } catch {
      throw new DropError("the exported session key does not load");
    }
    if (session.sessionId !== sessionId) {
      session.free();
      throw new DropError("session_id is not the key's");
    }
    await this.addInbound(session, { room, session_id: sessionId, sender_key: senderKey, backed_up: backedUp });
  }

  // ---- rooms (§3) ----

  /** Every device that gets this room's key: all devices of every current member but this one. */
  private async recipients(members: number[]): Promise<DeviceRecord[]> {
    await this.refreshDevices(members);
    const me = this.opts.me;
    return members.flatMap((u) => this.devices.of(u)).filter((d) => !d.changed && !(d.user === me.user && d.device === me.device));
  }

  private readonly roomQueues = new Map<number, Promise<unknown>>();

  /** The `encrypted` field of a room message; the key goes to every device of `members` first (send_to_device
   * ok). Send it with `members.seq` as `members_seq`: the session is one shared for exactly that member list.
   * One at a time per room: a second message must not use a session whose key is still on its way. */
  encrypt(room: number, members: RoomMembers, content: Omit<RoomPlaintext, "room">): Promise<MegolmPayload> {
    const run = (this.roomQueues.get(room) ?? Promise.resolve()).catch(() => undefined).then(() => this.encryptNow(room, members, content));
    this.roomQueues.set(room, run);
    return run;
  }

  private async encryptNow(room: number, members: RoomMembers, content: Omit<RoomPlaintext, "room">): Promise<MegolmPayload> {
    const targets = await this.recipients(members.users);
    const names = targets.map((d) => `${d.user}:${d.device}:${d.identity_key}`).sort();
    let out = this.groups.current(room, names, members.seq);
    if (!out) {
      out = await this.groups.create(room, names, members.seq);
      const sessionKey = out.session.sessionKey;
      const sessionId = out.session.sessionId;
      // our own copy, so this device reads its own messages (and backs the session up)
      await this.addInbound(GroupInbound.fromSessionKey(sessionKey), {
        room, session_id: sessionId, sender_key: this.identityKey, sender: this.opts.me.user, sender_device: this.opts.me.device,
      });
      try {
        await this.sendOlm(targets, "room_key", () => ({ room, session_id: sessionId, session_key: sessionKey }));
      } catch (err) {
        // some devices may hold the key and others not: never use it, the next try makes and shares a new one
        await this.groups.discard(room);
        throw err;
      }
    }
    const ciphertext = out.session.encrypt(JSON.stringify({ ...content, room }));
    out.record.count += 1;
    await this.groups.saveOutbound(room, out);
    return { algorithm: "megolm.v1", ciphertext, session_id: out.session.sessionId, sender_key: this.identityKey, device: this.opts.me.device };
  }

  /** Membership changed (a member left, was removed or added): the next message uses a new session. */
  async membersChanged(room: number): Promise<void> {
    await this.groups.discard(room);
  }

  /** The plaintext of a room message from `sender`; "pending" starts (or continues) the search for its key. */
  /** `seq`: where the server put it; the same ciphertext at another seq is a replay and refused. */
  async decrypt(room: number, sender: number, payload: MegolmPayload, seq?: number): Promise<DecryptResult> {
    if (!payload || payload.algorithm !== "megolm.v1" || typeof payload.ciphertext !== "string" || typeof payload.session_id !== "string") {
      return { state: "failed", reason: "not a megolm.v1 message" };
    }
    const have = this.groups.getInbound(room, payload.session_id);
    if (!have) {
      const search = this.searchKey(room, payload.session_id, payload.sender_key);
      return search === "failed" ? { state: "failed", reason: "the key never came" } : { state: "pending", search };
    }
    if (have.record.sender_key !== payload.sender_key) return { state: "failed", reason: "the session belongs to another device" };
    let text: string;
    let index: number;
    try {
      ({ plaintext: text, index } = have.session.decrypt(payload.ciphertext));
    } catch (err) {
      return { state: "failed", reason: `does not decrypt: ${String(err)}` };
    }
    let content: RoomPlaintext;
    try {
      content = JSON.parse(text) as RoomPlaintext;
    } catch {
      return { state: "failed", reason: "the plaintext is not JSON" };
    }
    if (content.room !== room) return { state: "failed", reason: "the message was encrypted for another room" };
    if (!KINDS.has(content.kind) || typeof content.body !== "string") return { state: "failed", reason: "unknown kind" };
    // the session's sender must be the message's: by the room_key's Olm sender, or else by its identity key
    if (have.record.sender !== undefined && (have.record.sender !== sender || have.record.sender_device !== payload.device)) {
      return { state: "failed", reason: "the message claims another sender than its key" };
    }
    const device = have.record.sender_device === undefined ? await this.deviceOf(sender, payload.device) : this.devices.get(sender, payload.device);
    if (have.record.sender_device === undefined && device && device.identity_key !== have.record.sender_key) {
      return { state: "failed", reason: "the message claims another sender than its key" };
    }
    if (seq !== undefined) {
      const seen = (have.record.seen ??= {});
      const first = seen[index];
      if (first !== undefined && first !== seq) return { state: "failed", reason: `a replay of message ${first}` };
      if (first === undefined) {
        seen[index] = seq;
        await this.groups.saveInbound(have);
      }
    }
    const own = sender === this.opts.me.user && payload.device === this.opts.me.device;
    return { state: "ok", content, device: payload.device, verified: own || !!device?.verified };
  }

  /** Where the search for a key stands: to-device stream, then the backup, then our own verified devices. */
  keySearch(room: number, sessionId: string): KeySearch | undefined {
    return this.searches.get(`${room}|${sessionId}`);
  }

  private searchKey(room: number, sessionId: string, senderKey: string): KeySearch {
    const id = `${room}|${sessionId}`;
    const state = this.searches.get(id);
    if (state) return state;
    this.searches.set(id, "waiting");
    const step = (s: KeySearch) => {
      if (!this.searches.has(id)) return false; // the key came
      this.searches.set(id, s);
      this.emit({ type: "search", room, session_id: sessionId, search: s });
      return true;
    };
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    void (async () => {
      await wait(this.opts.streamWaitMs ?? 4000);
      if (!step("backup")) return;
      await this.restoreFromBackup().catch(() => undefined);
      if (this.groups.getInbound(room, sessionId)) return;
      if (!step("requested")) return;
      const mine = this.devices.of(this.opts.me.user).filter((d) => d.verified && d.device !== this.opts.me.device && !d.changed);
      if (mine.length) {
        await this.sendOlm(mine, "room_key_request", () => ({ room, session_id: sessionId, sender_key: senderKey, request_id: uuid() })).catch(() => undefined);
        await wait(this.opts.requestWaitMs ?? 20_000);
      }
      step("failed");
    })();
    return "waiting";
  }

  // ---- backup (§4) ----

  backupVersion(): number | null {
    return this.meta.backup?.version ?? null;
  }

  private async keysOfBackup(): Promise<BackupKeys | null> {
    if (!this.meta.backup) return null;
    this.backupKeysCache ??= await backupKeys(fromBase64(this.meta.backup.recovery_key));
    return this.backupKeysCache;
  }

  /** Make a new backup (replacing the old one) with every session we hold; the recovery key, to show once. */
  async createBackup(): Promise<string> {
    const key = newRecoveryKey();
    const keys = await backupKeys(key);
    const info = await this.opts.transport.createBackup(await backupAuth(keys));
    this.meta.backup = { version: info.version, recovery_key: toBase64(key) };
    this.backupKeysCache = keys;
    await this.saveMeta();
    await this.backupPending();
    this.emit({ type: "backup" });
    return formatRecoveryKey(key);
  }

  /** Use a typed recovery key: check it against the backup, import every session, write to it from now on. */
  async useRecoveryKey(text: string): Promise<number> {
    const key = parseRecoveryKey(text);
    const info = await this.opts.transport.getBackup();
    if (!info) throw new Error("Your account has no key backup yet: set it up on a device that has your history.");
    const keys = await backupKeys(key);
    if (!(await matchesAuth(keys, info.auth))) throw new Error("This recovery key does not match your backup. Check it and try again.");
    this.meta.backup = { version: info.version, recovery_key: toBase64(key) };
    this.backupKeysCache = keys;
    await this.saveMeta();
    const n = await this.restoreFromBackup();
    await this.backupPending();
    this.emit({ type: "backup" });
    return n;
  }

  /** Import every backup entry we do not hold yet; how many were new. */
  async restoreFromBackup(): Promise<number> {
    const keys = await this.keysOfBackup();
    const version = this.meta.backup?.version;
    if (!keys || version === undefined) return 0;
    let after: { room: number; session_id: string } | undefined;
    let n = 0;
    for (;;) {
      const page = await this.opts.transport.getBackupKeys(version, after);
      for (const e of page.keys) {
        after = { room: e.room, session_id: e.session_id };
        if (this.groups.getInbound(e.room, e.session_id)) continue;
        const s = await openEntry(keys, e.room, e.session_id, e.data);
        if (!s) continue; // forged or moved: ignored
        try {
          await this.importExported(s.room, s.session_id, s.sender_key, s.session_key, version);
          n += 1;
        } catch {
          // a damaged entry: the others still count
        }
      }
      if (!page.more || !page.keys.length) return n;
    }
  }

  /** Upload the sessions not yet in the current backup. */
  private async backupPending(): Promise<void> {
    const keys = await this.keysOfBackup();
    const version = this.meta.backup?.version;
    if (!keys || version === undefined) return;
    const todo = this.groups.allInbound().filter((e) => e.record.backed_up !== version);
    for (let i = 0; i < todo.length; i += 1000) {
      const batch = todo.slice(i, i + 1000);
      const entries = await Promise.all(batch.map(async ({ session, record }) => ({
        room: record.room, session_id: record.session_id,
        data: await sealEntry(keys, { room: record.room, session_id: record.session_id, sender_key: record.sender_key, session_key: session.exportAt(session.firstKnownIndex) }),
      })));
      try {
        await this.opts.transport.putBackupKeys(version, entries);
      } catch (err) {
        if ((err as { code?: string }).code === "conflict") { // another device made a new backup: ours is gone
          delete this.meta.backup;
          this.backupKeysCache = null;
          await this.saveMeta();
          this.emit({ type: "backup" });
          return;
        }
        throw err;
      }
      for (const e of batch) {
        e.record.backed_up = version;
        await this.groups.saveInbound(e);
      }
    }
  }
}
