import { useEffect, useState } from "react";
import { navigate, useStore } from "./hooks";
import type { InvitePreview } from "../protocol/types";
import { Avatar } from "./Avatar";

const REFUSED: Record<string, string> = {
  invite_expired: "This invite link has expired.", invite_revoked: "This invite link was revoked.",
  invite_used_up: "This invite link has been used up.", conflict: "You are already a member of this group.",
  not_found: "This invite link does not exist.", forbidden: "You cannot join this group.",
  rate_limited: "Too many invite links tried; wait a minute and reload.",
};

function explain(err: unknown): string {
  const e = err as { code?: string; message: string };
  return REFUSED[e.code ?? ""] ?? e.message;
}

/** /i/{code}: what the server says the link leads to (the group's name, description and size now), and Join. */
export function InvitePage({ code }: { code: string }) {
  const store = useStore();
  const [preview, setPreview] = useState<InvitePreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dead, setDead] = useState(false); // the link cannot be used: no Join button
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    store.previewInvite(code).then(
      (p) => { if (live) setPreview(p); },
      (err) => { if (live) { setError(explain(err)); setDead(true); } });
    return () => { live = false; };
  }, [store, code]);

  async function join() {
    setBusy(true);
    setError(null);
    try {
      await store.join(code);
      navigate(preview ? `/r/${preview.room}` : "/", true);
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  }

  const name = preview?.name;
  return (
    <section className="invite-page card" aria-labelledby="invite-title" aria-busy={!preview && !dead}>
      <Avatar name={name ?? "#"} seed={preview ? `g${preview.room}` : code} image={preview?.icon} size={72} className="big" />
      <h2 id="invite-title">{name ? `Join “${name}”` : dead ? "Invite link" : "Join a group"}</h2>
      {preview && <p data-testid="invite-members">{preview.members} member{preview.members === 1 ? "" : "s"}</p>}
      {preview?.description && <p className="small">{preview.description}</p>}
      <p className="small">Invite code <code>{code}</code></p>
      {error && <p className="error" role="alert">{error}</p>}
      <p className="row center">
        {preview?.member
          ? <button type="button" className="primary" onClick={() => navigate(`/r/${preview.room}`)}>Open the group (you are a member)</button>
          : !dead && <button type="button" className="primary" disabled={busy || !preview} onClick={() => void join()}>Join group</button>}
        <button type="button" onClick={() => navigate("/")}>Not now</button>
      </p>
    </section>
  );
}
