// Olm to-device messages (docs/e2ee.md §2): sessions with other devices (one claimed one-time key opens
// one), the envelope `{algorithm, sender_key, type, ciphertext}`, and every plaintext check, so a message
// replayed to another device, or sent under another device's name, is dropped.
import type { DeviceRecord } from "./devices";
import { Account, OlmSession } from "./olm";
import { verifyOneTimeKey } from "./statements";
import type { SealedStore } from "./store";
import type { CryptoTransport, OlmEnvelope, OlmPlaintext, ToDeviceIn, ToDeviceOut } from "./wire";

export interface Me {
  user: number;
  device: string;
}

/** Why a to-device message was dropped (said in the log; the message is acked all the same). */
export class DropError extends Error {}

const MAX_SESSIONS = 5; // per device; the newest first

export class OlmChannel {
  private readonly sessions = new Map<string, OlmSession[]>(); // by the other device's identity key

  constructor(
    private readonly me: Me,
    readonly account: Account,
    private readonly store: SealedStore,
    private readonly transport: CryptoTransport,
  ) {}

  async load(): Promise<void> {
    for (const [key, pickles] of await this.store.all<string[]>("olm")) {
      this.sessions.set(key, pickles.map((p) => OlmSession.unpickle(this.store.pickleKey, p)));
    }
  }

  async saveAccount(): Promise<void> {
    await this.store.put("account", "account", this.account.pickle(this.store.pickleKey));
  }

  private async saveSessions(identityKey: string): Promise<void> {
    const list = this.sessions.get(identityKey) ?? [];
    await this.store.put("olm", identityKey, list.map((s) => s.pickle(this.store.pickleKey)));
  }

  private remember(identityKey: string, session: OlmSession): void {
    const list = [session, ...(this.sessions.get(identityKey) ?? []).filter((s) => s !== session)];
    for (const old of list.splice(MAX_SESSIONS)) old.free();
    this.sessions.set(identityKey, list);
  }

  hasSession(identityKey: string): boolean {
    return (this.sessions.get(identityKey)?.length ?? 0) > 0;
  }

  /** Open sessions with the devices that have none (claim_keys; each claimed key's signature checked). */
  async ensureSessions(targets: DeviceRecord[], force = false): Promise<void> {
    const missing = targets.filter((d) => force || !this.hasSession(d.identity_key));
    if (!missing.length) return;
    const claimed = await this.transport.claimKeys(missing.map((d) => ({ user: d.user, device: d.device })));
    for (const k of claimed) {
      const d = missing.find((m) => m.user === k.user && m.device === k.device);
      if (!d || !verifyOneTimeKey(d.signing_key, d.user, d.device, k)) continue; // a forged key: no session
      this.remember(d.identity_key, OlmSession.outbound(this.account, d.identity_key, k.key));
      await this.saveSessions(d.identity_key);
    }
  }

  /** The to-device message carrying `type`/`content` to `d` (a session must exist: ensureSessions). */
  async encrypt(d: DeviceRecord, type: string, content: Record<string, unknown>): Promise<ToDeviceOut | null> {
    const session = this.sessions.get(d.identity_key)?.[0];
    if (!session) return null;
    const plaintext: OlmPlaintext = {
      type, sender: this.me.user, sender_device: this.me.device, recipient: d.user, recipient_device: d.device,
      recipient_key: d.signing_key, sender_signing_key: this.account.signingKey, content,
    };
    const m = session.encrypt(JSON.stringify(plaintext));
    await this.saveSessions(d.identity_key);
    const envelope: OlmEnvelope = { algorithm: "olm.v1", sender_key: this.account.identityKey, type: m.type, ciphertext: m.body };
    return { user: d.user, device: d.device, body: JSON.stringify(envelope) };
  }

  /** The checked plaintext of a to-device message from `sender` (its device record, keys from query_keys). */
  async decrypt(msg: ToDeviceIn, sender: DeviceRecord): Promise<OlmPlaintext> {
    const env = parseEnvelope(msg.body);
    if (sender.changed) throw new DropError(`device ${msg.sender_device} changed its keys: not trusted`);
    if (env.sender_key !== sender.identity_key) throw new DropError("sender_key is not the identity key the sender published");
    const text = await this.decryptBody(env);
    let p: OlmPlaintext;
    try {
      p = JSON.parse(text) as OlmPlaintext;
    } catch {
      throw new DropError("the plaintext is not JSON");
    }
    if (typeof p !== "object" || p === null || typeof p.type !== "string" || typeof p.content !== "object" || p.content === null) {
      throw new DropError("the plaintext has no type or content");
    }
    if (p.sender !== msg.sender || p.sender_device !== msg.sender_device) throw new DropError("the plaintext names another sender");
    if (p.recipient !== this.me.user || p.recipient_device !== this.me.device) throw new DropError("the plaintext is for another device");
    if (p.recipient_key !== this.account.signingKey) throw new DropError("the plaintext names another recipient key");
    if (p.sender_signing_key !== sender.signing_key) throw new DropError("the plaintext names another sender signing key");
    return p;
  }

  private async decryptBody(env: OlmEnvelope): Promise<string> {
    const list = this.sessions.get(env.sender_key) ?? [];
    if (env.type === 0) {
      const existing = list.find((s) => s.matchesInbound(env.sender_key, env.ciphertext));
      if (existing) return this.decryptWith(env, existing);
      let session: OlmSession;
      try {
        session = OlmSession.inbound(this.account, env.sender_key, env.ciphertext);
      } catch (err) {
        throw new DropError(`no session from this pre-key message: ${String(err)}`);
      }
      let text: string;
      try {
        text = session.decrypt(0, env.ciphertext);
      } catch (err) {
        session.free();
        throw new DropError(`the pre-key message does not decrypt: ${String(err)}`);
      }
      this.account.removeOneTimeKeys(session); // a one-time key opens one session, never two
      this.remember(env.sender_key, session);
      await this.saveAccount();
      await this.saveSessions(env.sender_key);
      return text;
    }
    for (const s of list) {
      try {
        return await this.decryptWith(env, s);
      } catch {
        // another session with this device, maybe
      }
    }
    throw new WedgedError("no session decrypts this message");
  }

  private async decryptWith(env: OlmEnvelope, s: OlmSession): Promise<string> {
    const text = s.decrypt(env.type, env.ciphertext);
    this.remember(env.sender_key, s);
    await this.saveSessions(env.sender_key);
    return text;
  }
}

/** A normal message no session decrypts: the sender's session is "wedged", a `dummy` on a new one fixes it. */
export class WedgedError extends DropError {}

function parseEnvelope(body: string): OlmEnvelope {
  let env: Partial<OlmEnvelope>;
  try {
    env = JSON.parse(body) as Partial<OlmEnvelope>;
  } catch {
    throw new DropError("the body is not JSON");
  }
  if (typeof env !== "object" || env === null || env.algorithm !== "olm.v1") throw new DropError("not an olm.v1 envelope");
  if (env.type !== 0 && env.type !== 1) throw new DropError("type must be 0 or 1");
  if (typeof env.sender_key !== "string" || typeof env.ciphertext !== "string" || !env.ciphertext) throw new DropError("sender_key and ciphertext must be strings");
  return env as OlmEnvelope;
}
