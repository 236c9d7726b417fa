// The one file that imports the Olm library (libolm compiled to wasm, @towns-protocol/olm). Everything else
// in src/crypto speaks to the small interface below, so the library can be swapped for a vodozemac wasm
// build without touching the machine. It also hides the wrapper's sharp edges: it zeroes a Uint8Array key
// in place (we hand it a fresh copy each time), and its objects live in wasm memory until `.free()`.
import Olm, { type OlmImpl } from "@towns-protocol/olm";

let lib: OlmImpl | null = null;
let loading: Promise<void> | null = null;

/** Load the wasm once. `wasmUrl`: where the browser fetches olm.wasm (Node finds it next to the module). */
export function loadOlm(wasmUrl?: string): Promise<void> {
  loading ??= Olm.initAsync(wasmUrl ? { locateFile: () => wasmUrl } : undefined).then((impl) => {
    lib = impl;
  }).catch((err: unknown) => {
    loading = null;
    throw err;
  });
  return loading;
}

function olm(): OlmImpl {
  if (!lib) throw new Error("the Olm library is not loaded yet (call loadOlm first)");
  return lib;
}

/** A pickle key as the library wants it: a copy, since the library zeroes what it is given. */
const keyCopy = (key: Uint8Array): Uint8Array => new Uint8Array(key);

/** A device's Olm account: its identity (Curve25519) and signing (Ed25519) keys, one-time and fallback keys. */
export class Account {
  private constructor(private readonly inner: ReturnType<typeof newAccount>) {}

  static create(): Account {
    const a = newAccount();
    a.create();
    return new Account(a);
  }

  static unpickle(key: Uint8Array, pickle: string): Account {
    const a = newAccount();
    try {
      a.unpickle(keyCopy(key), pickle);
    } catch (err) {
      a.free();
      throw err;
    }
    return new Account(a);
  }

  pickle(key: Uint8Array): string {
    return this.inner.pickle(keyCopy(key));
  }

  /** { curve25519, ed25519 } */
  private ids(): { curve25519: string; ed25519: string } {
    return JSON.parse(this.inner.identity_keys()) as { curve25519: string; ed25519: string };
  }

  get identityKey(): string {
    return this.ids().curve25519;
  }

  get signingKey(): string {
    return this.ids().ed25519;
  }

  sign(message: string): string {
    return this.inner.sign(message);
  }

  get maxOneTimeKeys(): number {
    return this.inner.max_number_of_one_time_keys();
  }

  generateOneTimeKeys(count: number): void {
    this.inner.generate_one_time_keys(count);
  }

  /** The unpublished one-time keys, key id -> Curve25519 key. */
  oneTimeKeys(): Record<string, string> {
    return (JSON.parse(this.inner.one_time_keys()) as { curve25519: Record<string, string> }).curve25519;
  }

  generateFallbackKey(): void {
    this.inner.generate_fallback_key();
  }

  /** The fallback key not yet published, or null. */
  unpublishedFallbackKey(): { id: string; key: string } | null {
    const keys = (JSON.parse(this.inner.unpublished_fallback_key()) as { curve25519: Record<string, string> }).curve25519;
    const [entry] = Object.entries(keys);
    return entry ? { id: entry[0], key: entry[1] } : null;
  }

  markKeysAsPublished(): void {
    this.inner.mark_keys_as_published();
  }

  /** Forget the one-time key a new inbound session used (it must never start a second session). */
  removeOneTimeKeys(session: OlmSession): void {
    this.inner.remove_one_time_keys(session.raw());
  }

  raw(): ReturnType<typeof newAccount> {
    return this.inner;
  }

  free(): void {
    this.inner.free();
  }
}

const newAccount = () => new (olm().Account)();
const newSession = () => new (olm().Session)();

/** An Olm session with one other device. */
export class OlmSession {
  private constructor(private readonly inner: ReturnType<typeof newSession>) {}

  static outbound(account: Account, theirIdentityKey: string, theirOneTimeKey: string): OlmSession {
    return OlmSession.made((s) => s.create_outbound(account.raw(), theirIdentityKey, theirOneTimeKey));
  }

  /** A session from a pre-key message of `senderKey` (the message's first plaintext still to decrypt). */
  static inbound(account: Account, senderKey: string, preKeyMessage: string): OlmSession {
    return OlmSession.made((s) => s.create_inbound_from(account.raw(), senderKey, preKeyMessage));
  }

  static unpickle(key: Uint8Array, pickle: string): OlmSession {
    return OlmSession.made((s) => s.unpickle(keyCopy(key), pickle));
  }

  private static made(init: (s: ReturnType<typeof newSession>) => void): OlmSession {
    const s = newSession();
    try {
      init(s);
    } catch (err) {
      s.free();
      throw err;
    }
    return new OlmSession(s);
  }

  pickle(key: Uint8Array): string {
    return this.inner.pickle(keyCopy(key));
  }

  get sessionId(): string {
    return this.inner.session_id();
  }

  matchesInbound(senderKey: string, preKeyMessage: string): boolean {
    return this.inner.matches_inbound_from(senderKey, preKeyMessage);
  }

  encrypt(plaintext: string): { type: 0 | 1; body: string } {
    return this.inner.encrypt(plaintext);
  }

  decrypt(type: 0 | 1, body: string): string {
    return this.inner.decrypt(type, body);
  }

  raw(): ReturnType<typeof newSession> {
    return this.inner;
  }

  free(): void {
    this.inner.free();
  }
}

const newOutbound = () => new (olm().OutboundGroupSession)();
const newInbound = () => new (olm().InboundGroupSession)();

/** The sending side of a Megolm session (one per room and device, until it rotates). */
export class GroupOutbound {
  private constructor(private readonly inner: ReturnType<typeof newOutbound>) {}

  static create(): GroupOutbound {
    const s = newOutbound();
    s.create();
    return new GroupOutbound(s);
  }

  static unpickle(key: Uint8Array, pickle: string): GroupOutbound {
    const s = newOutbound();
    try {
      s.unpickle(keyCopy(key), pickle);
    } catch (err) {
      s.free();
      throw err;
    }
    return new GroupOutbound(s);
  }

  pickle(key: Uint8Array): string {
    return this.inner.pickle(keyCopy(key));
  }

  get sessionId(): string {
    return this.inner.session_id();
  }

  /** The key at the current index (vodozemac `SessionKey`: signed by the session). */
  get sessionKey(): string {
    return this.inner.session_key();
  }

  get messageIndex(): number {
    return this.inner.message_index();
  }

  encrypt(plaintext: string): string {
    return this.inner.encrypt(plaintext);
  }

  free(): void {
    this.inner.free();
  }
}

/** The receiving side of a Megolm session. */
export class GroupInbound {
  private constructor(private readonly inner: ReturnType<typeof newInbound>) {}

  /** From a `room_key`'s session_key (signed). */
  static fromSessionKey(sessionKey: string): GroupInbound {
    return GroupInbound.made((s) => s.create(sessionKey));
  }

  /** From an exported key (`forwarded_room_key`, the backup). */
  static fromExported(exported: string): GroupInbound {
    return GroupInbound.made((s) => s.import_session(exported));
  }

  static unpickle(key: Uint8Array, pickle: string): GroupInbound {
    return GroupInbound.made((s) => s.unpickle(keyCopy(key), pickle));
  }

  private static made(init: (s: ReturnType<typeof newInbound>) => void): GroupInbound {
    const s = newInbound();
    try {
      init(s);
    } catch (err) {
      s.free();
      throw err;
    }
    return new GroupInbound(s);
  }

  pickle(key: Uint8Array): string {
    return this.inner.pickle(keyCopy(key));
  }

  get sessionId(): string {
    return this.inner.session_id();
  }

  get firstKnownIndex(): number {
    return this.inner.first_known_index();
  }

  decrypt(ciphertext: string): { plaintext: string; index: number } {
    const r = this.inner.decrypt(ciphertext);
    return { plaintext: r.plaintext, index: r.message_index };
  }

  /** The key from `index` on (vodozemac `ExportedSessionKey`). */
  exportAt(index: number): string {
    return this.inner.export_session(index);
  }

  free(): void {
    this.inner.free();
  }
}

/** One side of a SAS verification. */
export class Sas {
  private readonly inner = new (olm().SAS)();

  get publicKey(): string {
    return this.inner.get_pubkey();
  }

  setTheirKey(key: string): void {
    this.inner.set_their_key(key);
  }

  bytes(info: string, length: number): Uint8Array {
    return this.inner.generate_bytes(info, length);
  }

  /** HKDF-HMAC-SHA256 with correct base64 (vodozemac `calculate_mac`, not libolm's historical one). */
  mac(input: string, info: string): string {
    return this.inner.calculate_mac_fixed_base64(input, info);
  }

  free(): void {
    this.inner.free();
  }
}

/** Whether `signature` is `key`'s Ed25519 signature of `message` (never throws). */
export function verifyEd25519(key: string, message: string, signature: string): boolean {
  const u = new (olm().Utility)();
  try {
    u.ed25519_verify(key, message, signature);
    return true;
  } catch {
    return false;
  } finally {
    u.free();
  }
}
