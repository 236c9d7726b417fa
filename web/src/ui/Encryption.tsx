// End-to-end encryption on screen (docs/e2ee.md): the settings section (this device's key, your devices with
// their verified marks and a Verify button, the key backup: set up once showing the recovery key, restore on
// a new device), the SAS emoji dialog on both devices, and the banners: "unlock with your password" and the
// loud one when a contact's security key changed.
import { useEffect, useState, type FormEvent } from "react";
import { Copy, KeyRound, Lock, ShieldAlert, ShieldCheck, ShieldQuestion } from "lucide-react";
import { useChat, useStore } from "./hooks";
import { Dialog } from "./Dialog";
import type { DeviceRecord } from "../crypto/devices";
import type { CryptoMachine } from "../crypto/machine";
import type { VerificationView } from "../crypto/verification";

/** A key shown for comparing by eye: groups of four characters. */
const fingerprint = (key: string) => key.replace(/(.{4})/g, "$1 ").trim();

const problem = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Re-render when the crypto machine's keys, devices or verifications move. */
function useCrypto() {
  const store = useStore();
  const status = useChat((s) => s.crypto.status);
  useChat((s) => s.crypto.changes);
  return { store, status, machine: store.crypto.machine };
}

/** The device lists of `users` as fresh as shown: asked again when the view opens, and whenever a
 * devices_changed push made one stale while it is open (a device that published its keys just after). */
function useFreshDevices(machine: CryptoMachine | null, users: number[]) {
  const changes = useChat((s) => s.crypto.changes);
  const key = users.join(",");
  useEffect(() => {
    if (machine && key) void machine.refreshDevices(key.split(",").map(Number), true).catch(() => undefined);
  }, [machine, key]);
  useEffect(() => {
    if (machine && key) void machine.refreshDevices(key.split(",").map(Number)).catch(() => undefined); // only the stale ones
  }, [machine, key, changes]);
}

export function EncryptionSettings() {
  const { store, status, machine } = useCrypto();
  useFreshDevices(machine, [store.state.me.userId]);

  return (
    <section className="stack" aria-labelledby="e2ee-title">
      <h3 id="e2ee-title">Encryption</h3>
      {status === "locked" && <UnlockForm />}
      {status === "failed" && <p className="error" role="alert">Encryption could not start on this device: {store.crypto.error}</p>}
      {(status === "starting" || status === "off") && <p className="small" role="status">Starting encryption…</p>}
      {machine && (
        <>
          <p className="small">
            Messages in encrypted chats can only be read on your devices and those of the people in them. This device's key:{" "}
            <code className="fingerprint" data-testid="own-fingerprint">{fingerprint(machine.signingKey)}</code>
          </p>
          <OwnDevices />
          <BackupSettings />
        </>
      )}
    </section>
  );
}

function OwnDevices() {
  const { store, machine } = useCrypto();
  if (!machine) return null;
  const me = machine.me;
  const devices = machine.devices.of(me.user).filter((d) => d.device !== me.device);
  return (
    <>
      <h4 className="sub">Your other devices</h4>
      {devices.length === 0 ? <p className="small">No other device of yours uses encryption yet.</p> : (
        <ul className="devices" aria-label="Your devices and their keys">
          {devices.map((d) => <DeviceRow key={d.device} d={d} verify={() => void store.crypto.machine?.verifications.request(d.user, d.device)} />)}
        </ul>
      )}
    </>
  );
}

export function DeviceRow({ d, verify }: { d: DeviceRecord; verify: () => void }) {
  const name = d.name || "Unnamed device";
  return (
    <li className="row device-key" data-testid="device-key" data-verified={d.verified ? "yes" : "no"}>
      {d.changed ? <ShieldAlert className="shield bad" size={22} aria-hidden="true" />
        : d.verified ? <ShieldCheck className="shield ok" size={22} aria-hidden="true" />
          : <ShieldQuestion className="shield" size={22} aria-hidden="true" />}
      <span className="grow">
        <strong>{name}</strong>{" "}
        <span className={`key-badge ${d.changed ? "bad" : d.verified ? "ok" : ""}`}>{d.changed ? "Key changed" : d.verified ? "Verified" : "Not verified"}</span>
        <br /><code className="fingerprint small">{fingerprint(d.signing_key)}</code>
      </span>
      {!d.verified && !d.changed && <button type="button" onClick={verify} aria-label={`Verify ${name}`}>Verify</button>}
    </li>
  );
}

function BackupSettings() {
  const { store, machine } = useCrypto();
  const [shown, setShown] = useState<string | null>(null);
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ text: string; error?: boolean } | null>(null);
  if (!machine) return null;
  const version = machine.backupVersion();

  async function create() {
    if (version !== null && !window.confirm("Make a new recovery key? The old one will no longer work, and your backup is written again.")) return;
    setBusy(true);
    setOutcome(null);
    try {
      setShown(await store.crypto.machine!.createBackup());
    } catch (err) {
      setOutcome({ text: problem(err), error: true });
    } finally {
      setBusy(false);
    }
  }

  async function restore(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setOutcome(null);
    try {
      const n = await store.crypto.machine!.useRecoveryKey(typed);
      setTyped("");
      setOutcome({ text: n === 1 ? "Restored 1 key from your backup." : `Restored ${n} keys from your backup.` });
    } catch (err) {
      setOutcome({ text: problem(err), error: true });
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h4 className="sub">Key backup</h4>
      {version !== null ? (
        <p className="small" data-testid="backup-state"><ShieldCheck size={15} className="inline-icon ok" aria-hidden="true" /> Your message keys are backed up, encrypted with your recovery key.</p>
      ) : (
        <p className="small" data-testid="backup-state">Back up your message keys so a new device can read your history. Only your recovery key opens the backup.</p>
      )}
      <div className="row wrap">
        <button type="button" className={version === null ? "primary" : undefined} disabled={busy} onClick={() => void create()}>
          {version === null ? "Set up key backup" : "Make a new recovery key"}
        </button>
      </div>
      {version === null && (
        <form className="stack" onSubmit={(e) => void restore(e)} aria-label="Restore from recovery key">
          <label>Restore from recovery key
            <textarea rows={2} className="recovery-input" spellCheck={false} autoComplete="off" value={typed} placeholder="EsTc LW2K …"
              onChange={(e) => setTyped(e.target.value)} />
          </label>
          <button type="submit" disabled={busy || !typed.trim()}>Restore</button>
        </form>
      )}
      {outcome && <p className={outcome.error ? "error" : "note"} role={outcome.error ? "alert" : "status"}>{outcome.text}</p>}
      {shown && <RecoveryKeyDialog recoveryKey={shown} onClose={() => setShown(null)} />}
    </>
  );
}

function RecoveryKeyDialog({ recoveryKey, onClose }: { recoveryKey: string; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(recoveryKey);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }
  return (
    <Dialog title="Your recovery key" onClose={onClose}>
      <div className="stack recovery">
        <KeyRound size={36} className="recovery-icon" aria-hidden="true" />
        <p>Keep this key somewhere safe, like a password manager. It is shown <strong>only once</strong>: with it, a new device reads your encrypted history.</p>
        <code className="recovery-key" data-testid="recovery-key">{recoveryKey}</code>
        <div className="row center">
          <button type="button" onClick={() => void copy()}><Copy size={16} className="inline-icon" aria-hidden="true" /> {copied ? "Copied" : "Copy"}</button>
          <button type="button" className="primary" onClick={onClose}>I saved it</button>
        </div>
      </div>
    </Dialog>
  );
}

function UnlockForm() {
  const store = useStore();
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fresh = store.crypto.freshStore; // nothing to check it against yet: typed twice instead
  async function submit(e: FormEvent) {
    e.preventDefault();
    if (fresh && password !== again) return setError("The two passwords do not match.");
    setBusy(true);
    setError(null);
    try {
      await store.crypto.unlock(password);
      setPassword("");
    } catch (err) {
      setError(problem(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form className="row wrap unlock" onSubmit={(e) => void submit(e)} aria-label="Unlock encryption">
      <Lock size={18} aria-hidden="true" />
      <span className="grow">Type your password once to read and send encrypted messages on this device.</span>
      <input type="password" autoComplete="current-password" aria-label="Password" placeholder="Your password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      {fresh && <input type="password" autoComplete="current-password" aria-label="Password again" placeholder="Again" required value={again} onChange={(e) => setAgain(e.target.value)} />}
      <button type="submit" className="primary" disabled={busy}>Unlock</button>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}

/** Above the chats: unlock this device, or a contact's security key changed (loud, until acknowledged). */
export function CryptoBanners() {
  const { store, status, machine } = useCrypto();
  const changed = machine?.identityWarnings() ?? [];
  return (
    <>
      {status === "locked" && <div className="crypto-banner"><UnlockForm /></div>}
      {changed.map((user) => (
        <div key={user} className="crypto-banner danger" role="alert" data-testid="identity-warning">
          <ShieldAlert size={22} aria-hidden="true" />
          <span className="grow">
            <strong>{store.name(user)}'s security key changed.</strong> This can mean someone is trying to read their messages.
            Until you accept it, no key goes to the changed device. Check with them in person, then verify again.
          </span>
          <button type="button" onClick={() => void Promise.all(machine!.devices.of(user).filter((d) => d.changed)
            .map((d) => machine!.devices.acceptChange(user, d.device))).then(() => machine!.devicesChanged(user))}>Accept the new key</button>
        </div>
      ))}
    </>
  );
}

/** The SAS flow on screen, on whichever device it runs (incoming requests too). */
export function VerificationDialogs() {
  const { store, machine } = useCrypto();
  const [closed, setClosed] = useState<Set<string>>(new Set());
  const open = (machine?.verifications.list() ?? []).filter((v) => !closed.has(v.txn));
  const v = open[0];
  if (!v || !machine) return null;
  const close = () => {
    if (v.phase !== "done" && v.phase !== "cancelled") void machine.verifications.cancel(v.txn);
    setClosed(new Set([...closed, v.txn]));
  };
  const who = v.user === store.state.me.userId ? machine.devices.get(v.user, v.device)?.name || "your other device" : store.name(v.user);
  return (
    <Dialog title={`Verify ${who}`} onClose={close}>
      <VerificationBody v={v} who={who} close={close} />
    </Dialog>
  );
}

function VerificationBody({ v, who, close }: { v: VerificationView; who: string; close: () => void }) {
  const store = useStore();
  const flows = store.crypto.machine!.verifications;
  switch (v.phase) {
    case "incoming":
      return (
        <div className="stack verify">
          <ShieldQuestion size={40} className="verify-icon" aria-hidden="true" />
          <p><strong>{who}</strong> wants to verify this device. Accept only if you started it.</p>
          <div className="row center">
            <button type="button" onClick={close}>Decline</button>
            <button type="button" className="primary" onClick={() => void flows.accept(v.txn)}>Accept</button>
          </div>
        </div>
      );
    case "requested":
    case "ready":
      return <p className="verify-wait" role="status">Waiting for {who} to accept… Open chatd there.</p>;
    case "emoji":
      return (
        <div className="stack verify">
          <p>Check that <strong>{who}</strong> shows the same emoji, in the same order:</p>
          <ol className="sas-emoji" aria-label="Emoji to compare" data-testid="sas-emoji">
            {v.emoji?.map(([emoji, name], i) => (
              <li key={i}><span className="sas-glyph" aria-hidden="true">{emoji}</span><span className="sas-name">{name}</span></li>
            ))}
          </ol>
          <div className="row center">
            <button type="button" className="danger" onClick={() => void flows.cancel(v.txn, "the emoji do not match")}>They don't match</button>
            <button type="button" className="primary" onClick={() => void flows.confirm(v.txn)}>They match</button>
          </div>
        </div>
      );
    case "confirmed":
      return <p className="verify-wait" role="status">Waiting for {who} to confirm…</p>;
    case "done":
      return (
        <div className="stack verify">
          <ShieldCheck size={44} className="verify-icon ok" aria-hidden="true" />
          <p role="status"><strong>{who}</strong> is verified.</p>
          <div className="row center"><button type="button" className="primary" onClick={close}>Done</button></div>
        </div>
      );
    case "cancelled":
      return (
        <div className="stack verify">
          <ShieldAlert size={44} className="verify-icon bad" aria-hidden="true" />
          <p role="alert">Verification cancelled: {v.reason}. Nothing was marked as verified.</p>
          <div className="row center"><button type="button" onClick={close}>Close</button></div>
        </div>
      );
  }
}

/** The chat header's lock: who can read this chat, device by device, each verifiable by emoji. */
export function RoomSecurityDialog({ room, onClose }: { room: number; onClose: () => void }) {
  const { store, machine } = useCrypto();
  const members = useChat((s) => s.views[room]?.members);
  const me = store.state.me.userId;
  const users = (members ?? []).map((m) => m.user);
  useFreshDevices(machine, users);
  return (
    <Dialog title="Encryption" onClose={onClose} wide>
      <div className="stack">
        <p className="small"><Lock size={14} className="inline-icon ok" aria-hidden="true" /> Messages here are end-to-end encrypted: each one is
          readable only by the devices below. Verify a device by comparing emoji with its owner, in person or on a call.</p>
        {!machine && <p className="small" role="status">Encryption is not ready on this device yet.</p>}
        {machine && users.map((u) => {
          const devices = machine.devices.of(u).filter((d) => !(u === me && d.device === machine.me.device));
          return (
            <section key={u} aria-label={`Devices of ${store.name(u)}`}>
              <h4 className="sub">{u === me ? "Your other devices" : store.name(u)}</h4>
              {devices.length === 0 ? <p className="small">No device with encryption.</p> : (
                <ul className="devices">
                  {devices.map((d) => <DeviceRow key={d.device} d={d} verify={() => void machine.verifications.request(d.user, d.device)} />)}
                </ul>
              )}
            </section>
          );
        })}
      </div>
    </Dialog>
  );
}
