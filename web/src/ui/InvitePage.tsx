import { useState } from "react";
import { navigate, useStore } from "./hooks";

/** /i/{code}: what the link says of the group (its name and size when it was shared), and Join. */
export function InvitePage({ code }: { code: string }) {
  const store = useStore();
  const hint = new URLSearchParams(location.hash.slice(1));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const name = hint.get("name");
  const members = hint.get("members");

  async function join() {
    setBusy(true);
    setError(null);
    try {
      const before = new Set(Object.keys(store.state.rooms).map(Number));
      await store.join(code);
      const joined = Object.values(store.state.rooms).find((r) => !before.has(r.room) && r.kind === "group");
      navigate(joined ? `/r/${joined.room}` : "/", true);
    } catch (err) {
      const e = err as { code?: string; message: string };
      const known: Record<string, string> = {
        invite_expired: "This invite link has expired.", invite_revoked: "This invite link was revoked.",
        invite_used_up: "This invite link has been used up.", conflict: "You are already a member of this group.",
        not_found: "This invite link does not exist.",
      };
      setError(known[e.code ?? ""] ?? e.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="invite-page card" aria-labelledby="invite-title">
      <div className="avatar big" aria-hidden="true">{(name ?? "#").slice(0, 1).toUpperCase()}</div>
      <h2 id="invite-title">{name ? `Join “${name}”` : "Join a group"}</h2>
      {members && <p data-testid="invite-members">{members} member{members === "1" ? "" : "s"} (when the link was shared)</p>}
      <p className="small">Invite code <code>{code}</code></p>
      {error && <p className="error" role="alert">{error}</p>}
      <p className="row center">
        <button type="button" className="primary" disabled={busy} onClick={join}>Join group</button>
        <button type="button" onClick={() => navigate("/")}>Not now</button>
      </p>
    </section>
  );
}
