// The SAS flow over to-device messages (docs/e2ee.md §6): request → ready → start/key → both users compare
// 7 emoji → mac → done; any mismatch or "they don't match" cancels and nothing is marked.
import { uuid } from "./encoding";
import { Sas } from "./olm";
import { sasEmoji, sasInfo, sasMacInfo } from "./sas";

export type Phase = "requested" | "incoming" | "ready" | "emoji" | "confirmed" | "done" | "cancelled";

/** What the dialog shows. */
export interface VerificationView {
  txn: string;
  user: number;
  device: string;
  initiator: boolean;
  phase: Phase;
  emoji?: (readonly [string, string])[];
  reason?: string;
}

/** What a flow needs from the machine. */
export interface VerificationHost {
  me: { user: number; device: string; signingKey: string };
  /** Sends one Olm to-device message of `type` to that device. */
  send(user: number, device: string, type: string, content: Record<string, unknown>): Promise<void>;
  /** The signing key this device holds for that device (from query_keys), if any. */
  signingKeyOf(user: number, device: string): string | undefined;
  markVerified(user: number, device: string, signingKey: string): Promise<boolean>;
  changed(view: VerificationView): void;
}

class Flow {
  sas: Sas | null = null;
  theirMac: string | null = null;
  confirmed = false;
  view: VerificationView;

  constructor(txn: string, user: number, device: string, initiator: boolean, phase: Phase) {
    this.view = { txn, user, device, initiator, phase };
  }
}

export class Verifications {
  private readonly flows = new Map<string, Flow>();

  constructor(private readonly host: VerificationHost) {}

  list(): VerificationView[] {
    return [...this.flows.values()].map((f) => f.view);
  }

  private set(f: Flow, patch: Partial<VerificationView>): void {
    f.view = { ...f.view, ...patch };
    this.host.changed(f.view);
  }

  /** Ask another device (ours or a contact's) to verify: it shows an incoming request. */
  async request(user: number, device: string): Promise<string> {
    const txn = uuid();
    const f = new Flow(txn, user, device, true, "requested");
    this.flows.set(txn, f);
    this.host.changed(f.view);
    await this.host.send(user, device, "verification.request", { txn, from_device: this.host.me.device });
    return txn;
  }

  /** The user accepts an incoming request. */
  async accept(txn: string): Promise<void> {
    const f = this.flows.get(txn);
    if (!f || f.view.phase !== "incoming") return;
    this.set(f, { phase: "ready" });
    await this.host.send(f.view.user, f.view.device, "verification.ready", { txn });
  }

  /** The user says the emoji match. */
  async confirm(txn: string): Promise<void> {
    const f = this.flows.get(txn);
    if (!f?.sas || f.view.phase !== "emoji") return;
    f.confirmed = true;
    this.set(f, { phase: "confirmed" });
    const mac = f.sas.mac(this.host.me.signingKey, sasMacInfo(txn, this.host.me.device));
    await this.host.send(f.view.user, f.view.device, "verification.mac", { txn, mac });
    if (f.theirMac) await this.checkMac(f);
  }

  /** The user says they don't match, or closes the dialog. */
  async cancel(txn: string, reason = "the user cancelled"): Promise<void> {
    const f = this.flows.get(txn);
    if (!f || f.view.phase === "done" || f.view.phase === "cancelled") return;
    this.finish(f, { phase: "cancelled", reason });
    await this.host.send(f.view.user, f.view.device, "verification.cancel", { txn, reason });
  }

  private finish(f: Flow, patch: Partial<VerificationView>): void {
    f.sas?.free();
    f.sas = null;
    this.set(f, patch);
  }

  private emojiOf(f: Flow, theirKey: string): void {
    if (!f.sas) return;
    f.sas.setTheirKey(theirKey);
    const me = this.host.me;
    const info = f.view.initiator
      ? sasInfo(me.user, me.device, f.view.user, f.view.device, f.view.txn)
      : sasInfo(f.view.user, f.view.device, me.user, me.device, f.view.txn);
    this.set(f, { phase: "emoji", emoji: sasEmoji(f.sas.bytes(info, 6)) });
  }

  private async checkMac(f: Flow): Promise<void> {
    const key = this.host.signingKeyOf(f.view.user, f.view.device);
    const expected = key && f.sas ? f.sas.mac(key, sasMacInfo(f.view.txn, f.view.device)) : null;
    if (!key || expected !== f.theirMac || !(await this.host.markVerified(f.view.user, f.view.device, key))) {
      await this.cancel(f.view.txn, "the keys do not match");
      return;
    }
    this.finish(f, { phase: "done" });
    await this.host.send(f.view.user, f.view.device, "verification.done", { txn: f.view.txn });
  }

  /** A verification.* plaintext from `user`/`device` (already checked by the Olm channel). */
  async receive(user: number, device: string, type: string, content: Record<string, unknown>): Promise<void> {
    const txn = typeof content.txn === "string" ? content.txn : "";
    if (!txn) return;
    let f = this.flows.get(txn);
    if (type === "verification.request") {
      if (f || content.from_device !== device) return;
      f = new Flow(txn, user, device, false, "incoming");
      this.flows.set(txn, f);
      this.host.changed(f.view);
      return;
    }
    if (!f || f.view.user !== user || f.view.device !== device) return; // not this flow's other side
    const key = typeof content.key === "string" ? content.key : "";
    switch (type) {
      case "verification.ready":
        if (!f.view.initiator || f.view.phase !== "requested") return;
        f.sas = new Sas();
        this.set(f, { phase: "ready" });
        await this.host.send(user, device, "verification.start", { txn, key: f.sas.publicKey });
        return;
      case "verification.start":
        if (f.view.initiator || f.view.phase !== "ready" || !key) return;
        f.sas = new Sas();
        await this.host.send(user, device, "verification.key", { txn, key: f.sas.publicKey });
        this.emojiOf(f, key);
        return;
      case "verification.key":
        if (!f.view.initiator || f.view.phase !== "ready" || !key) return;
        this.emojiOf(f, key);
        return;
      case "verification.mac":
        if (typeof content.mac !== "string") return;
        f.theirMac = content.mac;
        if (f.confirmed) await this.checkMac(f);
        return;
      case "verification.cancel":
        this.finish(f, { phase: "cancelled", reason: typeof content.reason === "string" ? content.reason : "cancelled by the other device" });
        return;
      case "verification.done":
        return; // we mark on their mac; their done only says they did too
    }
  }
}
