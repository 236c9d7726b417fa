import { useMemo } from "react";
import { BellOff, Camera, File, Lock, MessageSquarePlus, Music, Users, Video, type LucideIcon } from "lucide-react";
import { navigate, useChat, useStore } from "./hooks";
import { previewText, roomsByRecent } from "../store/logic";
import { badge, shortTime } from "./format";
import { Avatar } from "./Avatar";
import type { RoomRecord } from "../store/cache";

export function RoomList({ active }: { active: number | null }) {
  const store = useStore();
  const rooms = useChat((s) => s.rooms);
  useChat((s) => s.profiles); // names
  useChat((s) => s.crypto.changes); // previews of encrypted messages, once decrypted
  const presence = useChat((s) => s.presence);
  const sorted = useMemo(
    () => roomsByRecent(rooms),
    [rooms],
  );
  if (!sorted.length) return (
    <p className="empty small">
      No chats yet. Start one with <MessageSquarePlus size={16} aria-label="New direct chat" className="inline-icon" /> or{" "}
      <Users size={16} aria-label="New group" className="inline-icon" />.
    </p>
  );
  return (
    <ul className="rooms" aria-label="Chat list">
      {sorted.map((r) => ({ ...r, last_message: r.last_message && store.timeline.shown(r.last_message) })).map((r) => (
        <RoomRow key={r.room} r={r} title={store.roomTitle(r)} active={r.room === active}
          image={r.kind === "direct" ? (r.peer ? store.avatarOf(r.peer) : undefined) : r.icon}
          online={r.peer !== undefined && presence[r.peer]?.online === true}
          preview={previewText(r.last_message, store.name)} kind={r.last_message?.deleted ? undefined : r.last_message?.kind} sender={lastSender(r, store.name, store.state.me.userId)} />
      ))}
    </ul>
  );
}

function lastSender(r: RoomRecord, name: (u: number) => string, me: number): string {
  const m = r.last_message;
  if (!m || m.kind === "system" || m.sender === undefined) return "";
  if (m.sender === me) return "You: ";
  return r.kind === "group" ? `${name(m.sender)}: ` : "";
}

const KIND_ICON: Partial<Record<string, LucideIcon>> = { image: Camera, video: Video, audio: Music, file: File };

function RoomRow({ r, title, image, active, online, preview, kind, sender }: {
  r: RoomRecord; title: string; image?: string; active: boolean; online: boolean; preview: string; kind?: string; sender: string;
}) {
  const KindIcon = kind ? KIND_ICON[kind] : undefined;
  const unread = r.unread > 0 ? `, ${r.unread} unread` : "";
  const mention = (r.mentions ?? 0) > 0 ? ", mentioned" : "";
  return (
    <li>
      <a href={`/r/${r.room}`} className={`room-row ${active ? "active" : ""}`} aria-current={active ? "page" : undefined}
        aria-label={`${title}${unread}${mention}`} data-room={r.room}
        onClick={(e) => { e.preventDefault(); navigate(`/r/${r.room}`); }}>
        <Avatar name={title} seed={r.kind === "direct" ? r.peer ?? r.room : `g${r.room}`} image={image} online={online} size={48} />
        <span className="room-main">
          <span className="room-top">
            {r.encrypted && <Lock size={13} className="room-lock" aria-label="end-to-end encrypted" />}
            <span className="room-title">{title}</span>
            {r.muted && <BellOff size={14} className="muted-icon" aria-label="muted" />}
            {r.last_message && <time className="room-time">{shortTime(r.last_message.ts)}</time>}
          </span>
          <span className="room-bottom">
            <span className="room-preview">{sender}{KindIcon && <KindIcon size={14} className="inline-icon" aria-hidden="true" />}{preview}</span>
            {(r.mentions ?? 0) > 0 && <span className="badge mention" aria-hidden="true">@</span>}
            {r.unread > 0 && <span className={`badge ${r.muted ? "muted" : ""}`} data-testid="unread">{badge(r.unread)}</span>}
          </span>
        </span>
      </a>
    </li>
  );
}
