import { useEffect, useState, type FormEvent } from "react";
import { Lock, X } from "lucide-react";
import { Dialog } from "./Dialog";
import { navigate, useStore } from "./hooks";
import type { Profile } from "../protocol/types";

export function NewChatDialog({ mode, onClose }: { mode: "direct" | "group"; onClose: () => void }) {
  const store = useStore();
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Profile[]>([]);
  const [name, setName] = useState("");
  const [members, setMembers] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [encrypted, setEncrypted] = useState(false);

  const searchable = /^[A-Za-z0-9_.]{1,32}$/.test(query.trim());
  const shownResults = searchable ? results : [];
  useEffect(() => {
    const q = query.trim();
    if (!searchable) return;
    const t = setTimeout(() => {
      store.client.request("search_users", { query: q, limit: 8 })
        .then((r) => setResults(r.users.filter((u) => u.user !== store.state.me.userId)))
        .catch(() => setResults([]));
    }, 250);
    return () => clearTimeout(t);
  }, [query, searchable, store]);

  async function run(action: () => Promise<number>) {
    setBusy(true);
    setError(null);
    try {
      const room = await action();
      onClose();
      navigate(`/r/${room}`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    if (mode === "direct") void run(() => store.openDirect(query.trim(), encrypted));
    else void run(() => store.createGroup(name.trim(), members, encrypted));
  }

  const addMember = (username: string) => {
    if (!members.includes(username)) setMembers([...members, username]);
    setQuery("");
  };

  return (
    <Dialog title={mode === "direct" ? "New direct chat" : "New group"} onClose={onClose}>
      <form onSubmit={submit} className="stack">
        {mode === "group" && (
          <label>Group name<input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} /></label>
        )}
        <label>
          {mode === "direct" ? "Username" : "Add members (username)"}
          <input value={query} onChange={(e) => setQuery(e.target.value)} autoComplete="off" required={mode === "direct"}
            aria-describedby="search-hint" onKeyDown={(e) => {
              if (mode === "group" && e.key === "Enter" && query.trim()) { e.preventDefault(); addMember(query.trim()); }
            }} />
        </label>
        <small id="search-hint">{mode === "group" ? "Press Enter to add the typed name." : "Type a username; matches appear below."}</small>
        {shownResults.length > 0 && (
          <ul className="results" aria-label="Matching people">
            {shownResults.map((u) => (
              <li key={u.user}>
                <button type="button" className="link" onClick={() => mode === "direct" ? void run(() => store.openDirect(u.user, encrypted)) : addMember(u.username)}>
                  {u.display_name ? `${u.display_name} (@${u.username})` : `@${u.username}`}
                </button>
              </li>
            ))}
          </ul>
        )}
        {mode === "group" && members.length > 0 && (
          <ul className="chips" aria-label="Members to add">
            {members.map((m) => (
              <li key={m}>@{m} <button type="button" className="icon" aria-label={`Remove ${m}`} onClick={() => setMembers(members.filter((x) => x !== m))}><X size={16} aria-hidden="true" /></button></li>
            ))}
          </ul>
        )}
        <label className="row e2ee-toggle">
          <input type="checkbox" checked={encrypted} onChange={(e) => setEncrypted(e.target.checked)} />
          <Lock size={16} aria-hidden="true" />
          <span className="grow">End-to-end encrypted<small className="toggle-hint">Only the members' devices can read the messages. It cannot be turned off later.</small></span>
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button className="primary" type="submit" disabled={busy}>{mode === "direct" ? "Start chat" : "Create group"}</button>
      </form>
    </Dialog>
  );
}
