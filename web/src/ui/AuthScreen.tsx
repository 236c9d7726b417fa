import { useState, type FormEvent } from "react";
import * as http from "../http";
import { adopt, type Who } from "../session";
import { QrSignIn } from "./QrLogin";
import { rememberSignInPassword } from "../crypto/session";

/** `notice`: why the last session ended (signed out from another session, say), shown above the form. */
export function AuthScreen({ onAuthed, inviteCode, notice }: { onAuthed: (who: Who) => void; inviteCode?: string; notice?: string | null }) {
  const [mode, setMode] = useState<"login" | "signup" | "qr">(inviteCode ? "signup" : "login");
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const ok = mode === "signup" ? await http.signup(username, email, password, inviteCode) : await http.login(username, password);
      rememberSignInPassword(password); // derives this device's pickle key once the device id is known
      onAuthed(adopt(ok));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={(e) => void submit(e)} aria-labelledby="auth-title">
        <h1 id="auth-title">chatd</h1>
        {notice && <p className="notice" role="status">{notice}</p>}
        {inviteCode && <p className="note">You were invited to a group. {mode === "signup" ? "Sign up" : "Log in"} to join it.</p>}
        <div className="tabs" role="tablist" aria-label="Account">
          <button type="button" role="tab" aria-selected={mode === "login"} onClick={() => setMode("login")}>Log in</button>
          <button type="button" role="tab" aria-selected={mode === "signup"} onClick={() => setMode("signup")}>Sign up</button>
          <button type="button" role="tab" aria-selected={mode === "qr"} onClick={() => setMode("qr")}>QR code</button>
        </div>
        {mode === "qr" ? <QrSignIn onAuthed={onAuthed} /> : <>
        <label>
          {mode === "login" ? "Username or email" : "Username"}
          <input name="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)}
            pattern={mode === "signup" ? "[A-Za-z0-9_.]{3,32}" : undefined} title={mode === "signup" ? "3–32 letters, digits, _ or ." : undefined} />
        </label>
        {mode === "signup" && (
          <label>
            Email
            <input name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
        )}
        <label>
          Password
          <input name="password" type="password" autoComplete={mode === "signup" ? "new-password" : "current-password"} required
            minLength={mode === "signup" ? 8 : 1} value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button className="primary" type="submit" disabled={busy}>{mode === "signup" ? "Create account" : "Log in"}</button>
        </>}
      </form>
    </main>
  );
}
