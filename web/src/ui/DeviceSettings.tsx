// Settings › Devices and account (docs/protocol.md 3.8): the signed-in devices, linking a new one by QR code (3.9),
// "log out other devices", password change (signs the other devices out) and account deletion. Each part shows
// its own outcome.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useStore } from "./hooks";
import type { DeviceInfo } from "../protocol/types";
import { shortTime } from "./format";
import { QrApprove } from "./QrLogin";

type Outcome = { text: string; error?: boolean } | null;

/** Why a new password is refused before asking the server, or null. */
export function newPasswordProblem(next: string, confirm: string): string | null {
  return next === confirm ? null : "The new passwords do not match.";
}

/** What an action did, next to it: errors are alerts, successes a polite status. */
function Outcome({ of }: { of: Outcome }) {
  if (!of) return null;
  return <p className={of.error ? "error" : "note"} role={of.error ? "alert" : "status"}>{of.text}</p>;
}

const failed = (err: unknown): Outcome => ({ text: (err as Error).message, error: true });

export function DeviceSettings({ onDeleted }: { onDeleted: () => void }) {
  const [listed, relist] = useState(0);
  return (
    <>
      <Devices key={listed} />
      {/* the approved device signs itself in a moment later (it collects the approval): list again then */}
      <QrApprove onApproved={() => setTimeout(() => relist((n) => n + 1), 1500)} />
      <PasswordForm />
      <DeleteAccount onDeleted={onDeleted} />
    </>
  );
}

function Devices() {
  const store = useStore();
  const [devices, setDevices] = useState<DeviceInfo[] | null>(null);
  const [listError, setListError] = useState<Outcome>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const load = useCallback(async () => {
    try {
      setDevices((await store.client.request("list_devices", {})).devices);
      setListError(null);
    } catch (err) {
      setListError(failed(err));
    }
  }, [store]);
  // eslint-disable-next-line react-hooks/set-state-in-effect -- load sets state only once the list (or error) comes
  useEffect(() => void load(), [load]);

  async function logOut(args: { others: true } | { device: string }) {
    setOutcome(null);
    try {
      const { devices: out } = await store.client.request("logout_devices", args);
      if ("others" in args) setOutcome({ text: out.length === 1 ? "Logged out 1 other device." : `Logged out ${out.length} other devices.` });
      await load();
    } catch (err) {
      setOutcome(failed(err));
    }
  }

  const others = devices?.filter((d) => !d.current).length ?? 0;
  return (
    <section className="stack" aria-labelledby="devices-title">
      <h3 id="devices-title">Devices</h3>
      {listError ? (
        <div className="row"><Outcome of={listError} /><button type="button" onClick={() => void load()}>Try again</button></div>
      ) : devices === null ? <p className="small" role="status">Loading…</p> : (
        <ul className="devices" aria-label="Signed-in devices">
          {devices.map((d) => (
            <li key={d.device} className="row">
              <span className="grow">
                <strong>{d.name || "Unnamed device"}</strong>{d.current && " (this device)"}
                <br /><span className="small">signed in {shortTime(d.created_ts)} · last seen {shortTime(d.last_seen_ts)}</span>
              </span>
              {!d.current && <button type="button" onClick={() => void logOut({ device: d.device })} aria-label={`Log out ${d.name || "unnamed device"}`}>Log out</button>}
            </li>
          ))}
        </ul>
      )}
      <button type="button" disabled={others === 0} onClick={() => void logOut({ others: true })}>Log out other devices</button>
      <Outcome of={outcome} />
    </section>
  );
}

function PasswordForm() {
  const store = useStore();
  const [old, setOld] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [outcome, setOutcome] = useState<Outcome>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const problem = newPasswordProblem(next, confirm);
    if (problem) return setOutcome({ text: problem, error: true });
    setOutcome(null);
    try {
      await store.client.request("change_password", { old_password: old, new_password: next });
      setOld("");
      setNext("");
      setConfirm("");
      setOutcome({ text: "Password changed. Your other devices were logged out." });
    } catch (err) {
      setOutcome(failed(err));
    }
  }

  return (
    <section className="stack" aria-labelledby="password-title">
      <h3 id="password-title">Password</h3>
      <form className="stack" onSubmit={(e) => void submit(e)}>
        <label>Current password<input type="password" autoComplete="current-password" required value={old} onChange={(e) => setOld(e.target.value)} /></label>
        <label>New password<input type="password" autoComplete="new-password" required minLength={8} value={next} onChange={(e) => setNext(e.target.value)} /></label>
        <label>Confirm new password<input type="password" autoComplete="new-password" required minLength={8} value={confirm} onChange={(e) => setConfirm(e.target.value)} /></label>
        <Outcome of={outcome} />
        <button type="submit">Change password</button>
      </form>
    </section>
  );
}

function DeleteAccount({ onDeleted }: { onDeleted: () => void }) {
  const store = useStore();
  const [password, setPassword] = useState("");
  const [outcome, setOutcome] = useState<Outcome>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!window.confirm("Delete your account for good? Your messages stay, shown as from a deleted account.")) return;
    setOutcome(null);
    try {
      await store.client.request("delete_account", { password });
      onDeleted();
    } catch (err) {
      setOutcome(failed(err));
    }
  }

  return (
    <section className="stack" aria-labelledby="delete-title">
      <h3 id="delete-title">Delete account</h3>
      <form className="stack" onSubmit={(e) => void submit(e)}>
        <p className="small">Your profile, devices and push subscriptions are removed and you leave your groups. Messages you sent stay, shown as from a deleted account.</p>
        <label>Password<input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} /></label>
        <Outcome of={outcome} />
        <button type="submit" className="danger">Delete my account</button>
      </form>
    </section>
  );
}
