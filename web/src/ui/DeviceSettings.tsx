// Settings › Devices and account (docs/protocol.md 3.8): the signed-in devices, "log out other devices",
// password change (signs the other devices out) and account deletion.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useStore } from "./hooks";
import type { DeviceInfo } from "../protocol/types";
import { shortTime } from "./format";

export function DeviceSettings({ onDeleted }: { onDeleted: () => void }) {
  const store = useStore();
  const [devices, setDevices] = useState<DeviceInfo[] | null>(null);
  const [oldPassword, setOldPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [deletePassword, setDeletePassword] = useState("");
  const [message, setMessage] = useState<{ text: string; error?: boolean } | null>(null);

  const fail = (err: unknown) => setMessage({ text: (err as Error).message, error: true });
  const load = useCallback(() => store.client.request("list_devices", {}).then((r) => setDevices(r.devices), fail), [store]);
  useEffect(() => void load(), [load]);

  async function logoutOthers() {
    try {
      const { devices: out } = await store.client.request("logout_devices", { others: true });
      setMessage({ text: out.length === 1 ? "Logged out 1 other device." : `Logged out ${out.length} other devices.` });
      await load();
    } catch (err) {
      fail(err);
    }
  }

  async function logoutOne(device: string) {
    try {
      await store.client.request("logout_devices", { device });
      await load();
    } catch (err) {
      fail(err);
    }
  }

  async function changePassword(e: FormEvent) {
    e.preventDefault();
    try {
      await store.client.request("change_password", { old_password: oldPassword, new_password: newPassword });
      setOldPassword("");
      setNewPassword("");
      setMessage({ text: "Password changed. Your other devices were logged out." });
      await load();
    } catch (err) {
      fail(err);
    }
  }

  async function deleteAccount(e: FormEvent) {
    e.preventDefault();
    if (!window.confirm("Delete your account for good? Your messages stay, shown as from a deleted account.")) return;
    try {
      await store.client.request("delete_account", { password: deletePassword });
      onDeleted();
    } catch (err) {
      fail(err);
    }
  }

  const others = devices?.filter((d) => !d.current).length ?? 0;
  return (
    <>
      <h3>Devices</h3>
      {devices === null ? <p className="small">Loading…</p> : (
        <ul className="devices" aria-label="Signed-in devices">
          {devices.map((d) => (
            <li key={d.device} className="row">
              <span className="grow">
                <strong>{d.name || "Unnamed device"}</strong>{d.current && " (this device)"}
                <br /><span className="small">signed in {shortTime(d.created_ts)} · last seen {shortTime(d.last_seen_ts)}</span>
              </span>
              {!d.current && <button type="button" onClick={() => void logoutOne(d.device)} aria-label={`Log out ${d.name || "unnamed device"}`}>Log out</button>}
            </li>
          ))}
        </ul>
      )}
      <button type="button" disabled={others === 0} onClick={() => void logoutOthers()}>Log out other devices</button>
      {message && <p className={message.error ? "error" : "note"} role="status">{message.text}</p>}
      <h3>Password</h3>
      <form className="stack" onSubmit={changePassword}>
        <label>Current password<input type="password" autoComplete="current-password" required value={oldPassword} onChange={(e) => setOldPassword(e.target.value)} /></label>
        <label>New password<input type="password" autoComplete="new-password" required minLength={8} value={newPassword} onChange={(e) => setNewPassword(e.target.value)} /></label>
        <button type="submit">Change password</button>
      </form>
      <h3>Delete account</h3>
      <form className="stack" onSubmit={deleteAccount}>
        <p className="small">Your profile, devices and push subscriptions are removed and you leave your groups. Messages you sent stay, shown as from a deleted account.</p>
        <label>Password<input type="password" autoComplete="current-password" required value={deletePassword} onChange={(e) => setDeletePassword(e.target.value)} /></label>
        <button type="submit" className="danger">Delete my account</button>
      </form>
    </>
  );
}
