import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ArrowLeft, Lock } from "lucide-react";
import { navigate, useChat, useNow, useStore } from "./hooks";
import { QrCode } from "./QrCode";
import { Avatar } from "./Avatar";
import { PhotoPicker } from "./PhotoPicker";
import type { InviteInfo, Member } from "../protocol/types";

const RANK = { owner: 3, admin: 2, member: 1 } as const;

/** The page /i/{code} asks the server what the link leads to (preview_invite): the link itself says nothing. */
export function inviteLink(code: string): string {
  return `${location.origin}/i/${code}`;
}

export function GroupSettings({ room }: { room: number }) {
  const store = useStore();
  const view = useChat((s) => s.views[room]);
  const r = useChat((s) => s.rooms[room]);
  const [error, setError] = useState<string | null>(null);
  const [invites, setInvites] = useState<InviteInfo[] | null>(null);
  const me = store.state.me.userId;
  const members = view?.members ?? [];
  const myRole = members.find((m) => m.user === me)?.role ?? "member";
  const isAdmin = myRole !== "member";

  const refresh = useCallback(async () => {
    await store.loadRoomInfo(room);
    if (isAdmin) setInvites((await store.client.request("list_invites", { room }).catch(() => ({ invites: [] }))).invites);
  }, [store, room, isAdmin]);
  // eslint-disable-next-line react-hooks/set-state-in-effect -- refresh sets state only once its requests answer
  useEffect(() => void refresh(), [refresh]);

  /** Run an admin action from a click, then refresh; a failure of either is shown above the settings. */
  function act(fn: () => Promise<unknown>): void {
    setError(null);
    fn().then(refresh).catch((err: unknown) => setError((err as Error).message));
  }

  return (
    <section className="settings" aria-labelledby="group-title">
      <header className="bar">
        <button type="button" className="icon back always" aria-label="Back to chat" title="Back to chat" onClick={() => navigate(`/r/${room}`)}><ArrowLeft size={22} aria-hidden="true" /></button>
        <h2 id="group-title">{r?.name ?? "Group"} · settings</h2>
      </header>
      <div className="settings-body">
        {error && <p className="error" role="alert">{error}</p>}
        <div className="profile-head">
          <Avatar name={r?.name ?? "Group"} seed={`g${room}`} image={r?.icon} size={72} />
          {isAdmin && (
            <PhotoPicker id="group-photo" has={!!r?.icon} onResult={(text, error) => error ? setError(text) : setError(null)}
              apply={async (icon) => { await store.client.request("update_room", { room, icon }); await refresh(); }} />
          )}
        </div>
        {isAdmin && <RenameForm room={room} name={r?.name ?? ""} onDone={(fn) => act(fn)} />}
        <h3>Members ({members.length})</h3>
        {isAdmin && <p className="small">“Kick” removes a member, who can rejoin through a live invite link. “Kick and revoke links” also revokes every invite link of this group, so no one rejoins through an old link.</p>}
        <ul className="members">
          {members.map((m) => <MemberRow key={m.user} m={m} me={me} myRole={myRole} act={act} room={room} />)}
        </ul>
        {isAdmin && <Invites room={room} invites={invites ?? []} act={act} />}
        <h3>This chat</h3>
        {r?.encrypted ? (
          <p className="small e2ee-on"><Lock size={15} className="room-lock" aria-hidden="true" /> Messages in this group are end-to-end encrypted.</p>
        ) : isAdmin && (
          <p className="row">
            <button type="button" onClick={() => {
              if (window.confirm("Turn on end-to-end encryption? Only the members' devices will read new messages. It cannot be turned off.")) {
                act(() => store.enableEncryption(room));
              }
            }}><Lock size={15} className="inline-icon" aria-hidden="true" /> Turn on end-to-end encryption</button>
          </p>
        )}
        <p className="row">
          <button type="button" onClick={() => act(() => store.client.request("mute", { room, muted: !r?.muted }))}>{r?.muted ? "Unmute" : "Mute"} notifications</button>
          <button type="button" className="danger" onClick={() => {
            if (window.confirm(`Leave ${r?.name ?? "this group"}? You can only come back through an invite link or if an admin adds you.`)) {
              act(async () => { await store.client.request("leave", { room }); navigate("/"); });
            }
          }}>Leave group</button>
        </p>
      </div>
    </section>
  );
}

function RenameForm({ room, name, onDone }: { room: number; name: string; onDone: (fn: () => Promise<unknown>) => void }) {
  const store = useStore();
  const [value, setValue] = useState(name);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim() && value !== name) onDone(() => store.client.request("update_room", { room, name: value.trim() }));
  };
  return (
    <form className="row" onSubmit={submit}>
      <label>Group name <input value={value} maxLength={100} onChange={(e) => setValue(e.target.value)} /></label>
      <button type="submit">Rename</button>
    </form>
  );
}

function MemberRow({ m, me, myRole, act, room }: { m: Member; me: number; myRole: Member["role"]; act: (fn: () => Promise<unknown>) => void; room: number }) {
  const store = useStore();
  const outranks = RANK[myRole] > RANK[m.role];
  const req = store.client.request.bind(store.client);
  return (
    <li className="member">
      <Avatar name={m.user === me ? m.username : store.name(m.user)} seed={m.user} image={store.avatarOf(m.user)} size={36} />
      <span className="member-name">{store.name(m.user)} <small>@{m.username}</small></span>
      <span className={`role ${m.role}`}>{m.role}</span>
      {m.user !== me && (
        <span className="row">
          {myRole === "owner" && m.role !== "owner" && (
            <button type="button" onClick={() => act(() => req("set_role", { room, user: m.user, role: m.role === "admin" ? "member" : "admin" }))}>
              {m.role === "admin" ? "Demote" : "Promote"}<span className="visually-hidden"> {m.username}</span>
            </button>
          )}
          {outranks && (
            <>
              <button type="button" title="Removes them; they can rejoin through a live invite link" onClick={() => {
                if (window.confirm(`Remove @${m.username} from this group? They can rejoin through a live invite link.`)) {
                  act(() => req("remove_member", { room, user: m.user }));
                }
              }}>Kick<span className="visually-hidden"> {m.username}</span></button>
              <button type="button" onClick={() => {
                if (window.confirm(`Remove @${m.username} and revoke every invite link of this group? Links you shared stop working.`)) {
                  act(() => req("remove_member", { room, user: m.user, revoke_invites: true }));
                }
              }}>Kick and revoke links<span className="visually-hidden"> {m.username}</span></button>
              <button type="button" className="danger" onClick={() => {
                if (window.confirm(`Ban @${m.username}? They are removed and cannot rejoin, even through an invite link.`)) {
                  act(() => req("ban", { room, user: m.user }));
                }
              }}>Ban<span className="visually-hidden"> {m.username}</span></button>
            </>
          )}
        </span>
      )}
    </li>
  );
}

function Invites({ room, invites, act }: { room: number; invites: InviteInfo[]; act: (fn: () => Promise<unknown>) => void }) {
  const store = useStore();
  const [expires, setExpires] = useState("86400");
  const [maxUses, setMaxUses] = useState("");
  const [copied, setCopied] = useState<string | null>(null);
  const now = useNow(30_000); // an invite that expires leaves the list by itself
  const create = (e: FormEvent) => {
    e.preventDefault();
    act(() => store.client.request("create_invite", {
      room, expires_in: expires ? Number(expires) : undefined, max_uses: maxUses ? Number(maxUses) : undefined,
    }));
  };
  const live = invites.filter((i) => !i.revoked && (!i.expires_ts || i.expires_ts > now));
  return (
    <>
      <h3>Invite links</h3>
      <form className="row wrap" onSubmit={create}>
        <label>Expires
          <select value={expires} onChange={(e) => setExpires(e.target.value)}>
            <option value="3600">in 1 hour</option>
            <option value="86400">in 1 day</option>
            <option value="604800">in 7 days</option>
            <option value="">never</option>
          </select>
        </label>
        <label>Max uses<input type="number" min={1} max={1000000} value={maxUses} placeholder="unlimited" onChange={(e) => setMaxUses(e.target.value)} /></label>
        <button type="submit" className="primary">Create invite link</button>
      </form>
      <ul className="invites">
        {live.map((i) => {
          const link = inviteLink(i.code);
          return (
            <li key={i.code} className="invite">
              <QrCode text={link} label={`QR code for the invite link ${i.code}`} />
              <div className="stack">
                <label>Link<input readOnly value={link} data-testid="invite-link" onFocus={(e) => e.target.select()} /></label>
                <small>
                  used {i.use_count}{i.max_uses ? ` of ${i.max_uses}` : ""} times
                  {i.expires_ts ? ` · expires ${new Date(i.expires_ts).toLocaleString()}` : " · never expires"}
                </small>
                <span className="row">
                  <button type="button" onClick={() => void navigator.clipboard?.writeText(link).then(() => setCopied(i.code), () => setCopied(null))}>
                    {copied === i.code ? "Copied" : "Copy link"}
                  </button>
                  <button type="button" className="danger" onClick={() => act(() => store.client.request("revoke_invite", { room, code: i.code }))}>Revoke</button>
                </span>
              </div>
            </li>
          );
        })}
      </ul>
    </>
  );
}
