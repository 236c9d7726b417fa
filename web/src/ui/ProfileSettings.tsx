import { useEffect, useState, type FormEvent } from "react";
import { ArrowLeft } from "lucide-react";
import { navigate, useStore } from "./hooks";
import type { Profile, VisibilityLevel } from "../protocol/types";
import { currentSubscription, disablePush, enablePush, pushSupported } from "../push";
import { session } from "../session";
import { DeviceSettings } from "./DeviceSettings";
import { EncryptionSettings } from "./Encryption";
import { Avatar } from "./Avatar";
import { PhotoPicker } from "./PhotoPicker";
import { chime, setSoundEnabled, soundEnabled } from "../sound";

const FIELDS = [["display_name", "Display name"], ["about", "About"], ["last_seen", "Last seen & online"]] as const;

export function ProfileSettings({ onLogout }: { onLogout: (deleted?: boolean) => void }) {
  const store = useStore();
  const [profile, setProfile] = useState<Profile | null>(null);
  const [displayName, setDisplayName] = useState("");
  const [about, setAbout] = useState("");
  const [visibility, setVisibility] = useState<NonNullable<Profile["visibility"]>>({});
  const [receipts, setReceipts] = useState(localStorage.getItem("chatd.readReceipts") !== "off");
  const [push, setPush] = useState<"unknown" | "on" | "off">("unknown");
  const [message, setMessage] = useState<{ text: string; error?: boolean } | null>(null);
  const [sound, setSound] = useState(soundEnabled);

  useEffect(() => {
    void store.client.request("get_profile", {}).then(({ profile: p }) => {
      setProfile(p);
      setDisplayName(p.display_name ?? "");
      setAbout(p.about ?? "");
      setVisibility(p.visibility ?? {});
    });
    void currentSubscription().then((s) => setPush(s ? "on" : "off"), () => setPush("off"));
  }, [store]);

  async function save(e: FormEvent) {
    e.preventDefault();
    try {
      const { profile: p } = await store.client.request("update_profile", { display_name: displayName, about, visibility });
      setProfile(p);
      setMessage({ text: "Saved." });
    } catch (err) {
      setMessage({ text: (err as Error).message, error: true });
    }
  }

  function toggleSound(on: boolean) {
    setSound(on);
    setSoundEnabled(on);
    if (on) chime(true); // a sample, and browsers allow audio after this click
  }

  async function toggleReceipts(on: boolean) {
    setReceipts(on);
    localStorage.setItem("chatd.readReceipts", on ? "on" : "off");
    await store.client.request("settings", { read_receipts: on }).catch((err: Error) => setMessage({ text: err.message, error: true }));
  }

  async function togglePush() {
    const token = await session.access().catch(() => null);
    if (!token) return;
    try {
      if (push === "on") {
        await disablePush(token);
        setPush("off");
      } else {
        await enablePush(token);
        setPush("on");
      }
    } catch (err) {
      setMessage({ text: (err as Error).message, error: true });
    }
  }

  /** This device's push subscription goes first (best effort: signing out never waits on it failing). */
  async function logOut() {
    const token = await session.access().catch(() => null);
    if (token) await disablePush(token).catch(() => undefined);
    onLogout();
  }

  return (
    <section className="settings" aria-labelledby="profile-title">
      <header className="bar">
        <button type="button" className="icon back" aria-label="Back to chats" onClick={() => navigate("/")}><ArrowLeft size={22} aria-hidden="true" /></button>
        <h2 id="profile-title">Profile and privacy</h2>
      </header>
      <div className="settings-body">
        <div className="profile-head">
          <Avatar name={displayName || (profile?.username ?? store.state.me.username)} seed={store.state.me.userId} image={profile?.avatar} size={72} />
          <div className="stack">
            <p>Signed in as <strong>@{profile?.username ?? store.state.me.username}</strong></p>
            <PhotoPicker id="profile-photo" has={!!profile?.avatar} onResult={(text, error) => setMessage({ text, error })}
              apply={async (avatar) => setProfile((await store.client.request("update_profile", { avatar })).profile)} />
          </div>
        </div>
        <form className="stack" onSubmit={(e) => void save(e)}>
          <label>Display name<input value={displayName} maxLength={64} onChange={(e) => setDisplayName(e.target.value)} /></label>
          <label>About<textarea value={about} maxLength={500} rows={3} onChange={(e) => setAbout(e.target.value)} /></label>
          <fieldset>
            <legend>Who can see…</legend>
            {FIELDS.map(([field, label]) => (
              <label key={field} className="row">
                <span className="grow">{label}</span>
                <select aria-label={`Who can see your ${label.toLowerCase()}`} value={visibility[field] ?? "everyone"} onChange={(e) => setVisibility({ ...visibility, [field]: e.target.value as VisibilityLevel })}>
                  <option value="everyone">Everyone</option>
                  <option value="contacts">My contacts</option>
                  <option value="nobody">Nobody</option>
                </select>
              </label>
            ))}
          </fieldset>
          <button className="primary" type="submit">Save profile</button>
        </form>
        {message && <p className={message.error ? "error" : "note"} role="status">{message.text}</p>}
        <h3>Privacy</h3>
        <label className="row"><input type="checkbox" checked={receipts} onChange={(e) => void toggleReceipts(e.target.checked)} /> Send and show read receipts</label>
        <h3>Notifications</h3>
        <label className="row"><input type="checkbox" checked={sound} onChange={(e) => toggleSound(e.target.checked)} /> Play a sound for new messages in other chats</label>
        {pushSupported() ? (
          <button type="button" onClick={() => void togglePush()}>{push === "on" ? "Turn off push notifications" : "Turn on push notifications"}</button>
        ) : <p className="small">This browser does not support push notifications.</p>}
        <EncryptionSettings />
        <DeviceSettings onDeleted={() => onLogout(true)} />
        <h3>Account</h3>
        <button type="button" className="danger" onClick={() => void logOut()}>Log out</button>
      </div>
    </section>
  );
}
