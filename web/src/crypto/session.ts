// This tab's end-to-end encryption: opens the crypto store of the signed-in device (its pickle key kept
// wrapped, or derived from the password typed at sign-in: docs/e2ee.md §5 "Web client"), runs the machine,
// feeds it the to_device stream in order (each frame acked once handled) and devices_changed pushes.
import type { ChatClient } from "../protocol/client";
import { CryptoMachine, type CryptoEvent } from "./machine";
import { loadOlmInBrowser } from "./olmWasm";
import { derivePickleKey, recallPickleKey, rememberPickleKey } from "./pickleKey";
import { IdbStore, SealedStore } from "./store";
import { wsTransport } from "./transport";
import type { ToDeviceIn } from "./wire";

export type CryptoStatus = "off" | "starting" | "locked" | "ready" | "failed";

let typedPassword: string | null = null;

/** The password just typed at sign-in, kept in this tab's memory until the device id is known. */
export function rememberSignInPassword(password: string): void {
  typedPassword = password;
}

export const cryptoDbName = (user: number) => `chatd-crypto-${user}`;

export class CryptoSession {
  status: CryptoStatus = "off";
  /** While locked: no store yet on this device (the password typed now makes it: ask for it twice). */
  freshStore = false;
  error: string | null = null;
  machine: CryptoMachine | null = null;
  private device: string | null = null;
  private db: IdbStore | null = null;
  private queue: ToDeviceIn[][] = [];
  private draining = false;
  private readonly listeners = new Set<(e: CryptoEvent | null) => void>();

  constructor(private readonly user: number, private readonly client: ChatClient) {}

  /** Listen to the machine's events, and to status changes (null). */
  on(fn: (e: CryptoEvent | null) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(e: CryptoEvent | null = null): void {
    for (const l of this.listeners) l(e);
  }

  private setStatus(status: CryptoStatus, error: string | null = null): void {
    this.status = status;
    this.error = error;
    this.changed();
  }

  /** After each welcome: the first one opens the store (later ones publish keys again if needed). */
  async start(device: string): Promise<void> {
    if (this.machine) {
      this.machine.reconnected(); // devices_changed pushes may have been missed meanwhile
      void this.machine.publishKeys().catch(() => undefined);
      void this.drain();
      return;
    }
    if (this.status === "starting") return;
    this.device = device;
    this.setStatus("starting");
    try {
      await loadOlmInBrowser();
      this.db ??= await IdbStore.open(cryptoDbName(this.user));
      let key = await recallPickleKey(this.db.raw, device);
      if (!key && typedPassword !== null) {
        key = await derivePickleKey(typedPassword, this.user, device);
        await this.db.clear(); // a store of an older device of this browser, if any: its keys are gone
        await rememberPickleKey(this.db.raw, device, key);
      }
      typedPassword = null;
      if (!key) {
        this.freshStore = (await this.db.get("account", "account")) === undefined;
        return this.setStatus("locked");
      }
      await this.open(key);
    } catch (err) {
      this.setStatus("failed", err instanceof Error ? err.message : String(err));
    }
  }

  /** The banner's "Unlock": the password derives the pickle key (a wrong one fails to open the store). */
  async unlock(password: string): Promise<void> {
    if (!this.db || !this.device) return;
    const key = await derivePickleKey(password, this.user, this.device);
    const sealed = await SealedStore.open(this.db, key);
    try {
      await sealed.get("account", "account");
    } catch {
      throw new Error("That is not your password.");
    }
    await rememberPickleKey(this.db.raw, this.device, key);
    this.setStatus("starting");
    await this.open(key);
  }

  private async open(key: Uint8Array): Promise<void> {
    const store = await SealedStore.open(this.db!, key);
    const machine = await CryptoMachine.open({ me: { user: this.user, device: this.device! }, store, transport: wsTransport(this.client) });
    machine.on((e) => this.changed(e));
    this.machine = machine;
    this.setStatus("ready");
    await machine.publishKeys().catch((err: unknown) => this.setStatus("failed", err instanceof Error ? err.message : String(err)));
    void this.drain();
  }

  /** A to_device push: handled in order once the machine runs, then acked. */
  receive(messages: ToDeviceIn[]): void {
    this.queue.push(messages);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining || !this.machine) return;
    this.draining = true;
    try {
      for (let batch = this.queue.shift(); batch; batch = this.queue.shift()) {
        await this.machine.receiveToDevice(batch);
        const upto = Math.max(...batch.map((m) => m.id));
        this.client.notify("ack_to_device", { upto });
      }
    } finally {
      this.draining = false;
    }
  }

  stop(): void {
    this.db?.close();
  }
}
