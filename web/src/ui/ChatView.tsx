import { useLayoutEffect, useMemo, useRef, useState } from "react";
import { ArrowLeft, Lock, LockOpen, Settings, X } from "lucide-react";
import { navigate, useChat, useNow, useStore } from "./hooks";
import { canActOn, dayKey, describeEvent, isHiddenEvent, tickFor, type SeqCounts } from "../store/logic";
import { connLabel, dayLabel, lastSeen } from "./format";
import { MessageBubble, type BubbleActions, type BubbleContext } from "./MessageBubble";
import { snippet } from "./ReplyQuote";
import { Avatar } from "./Avatar";
import { Composer } from "./Composer";
import { RoomSecurityDialog } from "./Encryption";
import type { Message } from "../protocol/types";
import type { PendingSend } from "../store/chat";

export function ChatView({ room }: { room: number }) {
  const store = useStore();
  const r = useChat((s) => s.rooms[room]);
  const view = useChat((s) => s.views[room]);
  const outbox = useChat((s) => s.outbox);
  const typing = useChat((s) => s.typing[room]);
  const presence = useChat((s) => (r?.peer ? s.presence[r.peer] : undefined));
  useChat((s) => s.profiles);
  const connText = useChat((s) => connLabel(s.conn, s.network));
  useNow(30_000);
  const me = store.state.me.userId;
  const listRef = useRef<HTMLDivElement>(null);
  const prevFirst = useRef<{ seq: number | undefined; height: number }>({ seq: undefined, height: 0 });
  const stick = useRef(true);
  const [security, setSecurity] = useState(false);

  const hidden = r?.hidden;
  const decrypted = useChat((s) => s.crypto.changes); // a key came: show the messages it decrypts
  const messages = useMemo(() => (view?.messages ?? []).filter((m) => !isHiddenEvent(m) && !hidden?.includes(m.seq))
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `decrypted` moves when the timeline's plaintexts do
    .map((m) => store.timeline.shown(m)), [view?.messages, hidden, store, decrypted]);
  const replying = useChat((s) => s.replying[room]);
  const pending = useMemo(() => Object.values(outbox).filter((o) => o.room === room).sort((a, b) => a.created - b.created), [outbox, room]);

  // Keep the view at the bottom for new messages, and in place when older ones are prepended.
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const first = messages[0]?.seq;
    if (prevFirst.current.seq !== undefined && first !== undefined && first < prevFirst.current.seq) {
      el.scrollTop += el.scrollHeight - prevFirst.current.height;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
    prevFirst.current = { seq: first, height: el.scrollHeight };
  }, [messages, pending.length]);

  if (!r) return <div className="empty">Loading chat…</div>;
  const title = store.roomTitle(r);
  const typingNames = (typing ?? []).filter((u) => u !== me).map(store.name);
  const subtitle = connText ?? (typingNames.length
    ? `${typingNames.join(", ")} ${typingNames.length > 1 ? "are" : "is"} typing…`
    : r.kind === "direct"
      ? presence?.online ? "online" : presence ? lastSeen(presence.last_seen) : ""
      : `${view?.members?.length ?? r.members ?? "?"} members`);

  /** Scroll to message `seq` (loading it first if it is older than the window) and flash it. */
  async function jumpTo(seq: number) {
    const find = () => listRef.current?.querySelector<HTMLElement>(`[data-seq="${seq}"]`);
    if (!find()) await store.loadFrom(room, seq);
    requestAnimationFrame(() => {
      const el = find();
      if (!el) return;
      stick.current = false;
      el.scrollIntoView({ block: "center" });
      el.classList.add("flash");
      el.focus({ preventScroll: true });
      setTimeout(() => el.classList.remove("flash"), 1600);
    });
  }

  const onScroll = () => {
    const el = listRef.current!;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 150) void store.loadOlder(room);
  };

  return (
    <section className="chat" aria-label={`Chat with ${title}`}>
      <header className="bar chat-head">
        <button type="button" className="icon back" aria-label="Back to chats" onClick={() => navigate("/")}><ArrowLeft size={22} aria-hidden="true" /></button>
        <Avatar name={title} seed={r.kind === "direct" ? r.peer ?? r.room : `g${r.room}`} size={40}
          image={r.kind === "direct" ? (r.peer ? store.avatarOf(r.peer) : undefined) : r.icon} online={r.kind === "direct" && presence?.online === true} />
        <div className="chat-title">
          <h2>{r.encrypted && (
            <button type="button" className="lock-button" aria-label="Encryption details" title="End-to-end encrypted: see who can read" onClick={() => setSecurity(true)}>
              <Lock size={15} className="room-lock" aria-hidden="true" data-testid="room-lock" />
            </button>
          )}{title}</h2>
          <p className={`subtitle ${connText ? "conn-state" : typingNames.length ? "typing" : ""}`} aria-live="polite" data-testid="chat-subtitle">{subtitle}</p>
        </div>
        {r.kind === "direct" && r.member && !r.encrypted && (
          <button type="button" className="icon" aria-label="Turn on end-to-end encryption" title="Turn on end-to-end encryption"
            onClick={() => window.confirm("Turn on end-to-end encryption for this chat? Only your devices and theirs will read new messages. It cannot be turned off.")
              && void store.enableEncryption(room).catch((err: unknown) => window.alert((err as Error).message))}>
            <LockOpen size={20} aria-hidden="true" />
          </button>
        )}
        {r.kind === "group" && (
          <button type="button" className="icon" aria-label="Group settings" title="Group settings" onClick={() => navigate(`/r/${room}/settings`)}><Settings size={20} aria-hidden="true" /></button>
        )}
      </header>
      <div className="messages" ref={listRef} onScroll={onScroll} role="log" aria-label="Messages" tabIndex={0}>
        {r.encrypted && <p className="e2ee-notice" role="note"><Lock size={13} aria-hidden="true" /> Messages in this chat are end-to-end encrypted. Only the people in it can read them.</p>}
        {view?.atStart ? <p className="start">This is the beginning of the chat.</p>
          : view?.loadingOlder ? <p className="start" role="status">Loading older messages…</p> : null}
        <MessageRows messages={messages} me={me} receipts={r.receipts} counted={r.counted} kind={r.kind} encrypted={!!r.encrypted} jump={(seq) => void jumpTo(seq)} />
        {pending.map((p) => <PendingRow key={p.client_id} p={p} />)}
      </div>
      {r.member && replying !== undefined && <ReplyBar room={room} seq={replying} />}
      {r.member ? <Composer room={room} /> : <p className="left-note">You are no longer a member of this chat.</p>}
      {security && <RoomSecurityDialog room={room} onClose={() => setSecurity(false)} />}
    </section>
  );
}

function MessageRows({ messages, me, receipts, counted, kind, encrypted, jump }: {
  messages: Message[]; me: number; receipts: Parameters<typeof tickFor>[1]; counted?: SeqCounts; kind: "direct" | "group"; encrypted: boolean;
  jump: (seq: number) => void;
}) {
  const store = useStore();
  const room = messages[0]?.room;
  const myRole = useChat((s) => (room !== undefined ? s.views[room]?.members?.find((x) => x.user === me)?.role : undefined));
  const context: BubbleContext = { me, name: store.name, jump };
  const actionsFor = (m: Message): BubbleActions => ({
    reply: () => {
      store.replyTo(m.room, m.seq);
      document.getElementById(`compose-${m.room}`)?.focus(); // the composer's input
    },
    react: (emoji) => store.toggleReaction(m.room, m.seq, emoji),
    copyText: m.body || undefined,
    edit: canActOn(m, me) && !encrypted ? (body) => store.editMessage(m.room, m.seq, body) : undefined, // no edits in encrypted rooms
    remove: m.sender === me || (kind === "group" && (myRole === "admin" || myRole === "owner"))
      ? () => store.deleteMessage(m.room, m.seq) : undefined,
    hide: () => store.hideMessage(m.room, m.seq),
  });
  const rows: React.ReactNode[] = [];
  let day = "";
  let prevSender: number | undefined;
  let prevTs = 0;
  for (const m of messages) {
    const k = dayKey(m.ts);
    if (k !== day) {
      day = k;
      prevSender = undefined;
      rows.push(<div key={`d${k}`} className="day" role="separator" aria-label={dayLabel(m.ts)}><span>{dayLabel(m.ts)}</span></div>);
    }
    if (m.kind === "system") {
      prevSender = undefined;
      rows.push(<p key={m.seq} className="system" data-seq={m.seq}>{describeEvent(m, store.name)}</p>);
      continue;
    }
    const mine = m.sender === me;
    const cont = m.sender === prevSender && m.ts - prevTs < 5 * 60_000;
    const lead = kind === "group" && !mine
      ? (cont ? null : <Avatar name={store.name(m.sender!)} seed={m.sender!} image={store.avatarOf(m.sender!)} size={32} />)
      : undefined;
    rows.push(
      <MessageBubble key={m.seq} m={m} mine={mine} tick={mine ? tickFor(m.seq, receipts, counted) : undefined}
        actions={m.seq > 0 ? actionsFor(m) : undefined} context={context}
        author={kind === "group" && !mine && !cont ? store.name(m.sender!) : undefined} lead={lead} cont={cont} />,
    );
    prevSender = m.sender;
    prevTs = m.ts;
  }
  return <>{rows}</>;
}

/** Above the composer while the next message answers one: what it answers, and a way out. */
function ReplyBar({ room, seq }: { room: number; seq: number }) {
  const store = useStore();
  useChat((s) => s.crypto.changes);
  const raw = useChat((s) => s.views[room]?.messages.find((m) => m.seq === seq));
  const target = raw && store.timeline.shown(raw);
  const author = target?.sender !== undefined ? store.name(target.sender) : "";
  return (
    <div className="reply-bar" role="status" aria-label="Replying to a message">
      <div className="quote">
        <strong>Replying to {author || "a message"}</strong>
        <span>{snippet(target)}</span>
      </div>
      <button type="button" className="icon" aria-label="Cancel reply" title="Cancel reply" onClick={() => store.replyTo(room, null)}>
        <X size={18} aria-hidden="true" />
      </button>
    </div>
  );
}

function PendingRow({ p }: { p: PendingSend }) {
  const store = useStore();
  const m: Message = { room: p.room, seq: 0, ts: p.created, kind: p.kind, body: p.body, media: p.preview, sender: store.state.me.userId, reply_to: p.reply_to };
  return (
    <div className="pending-wrap">
      <MessageBubble m={m} mine tick="pending" />
      {p.error && (
        <p className="send-error" role="alert">
          Not sent: {p.error} <button type="button" onClick={() => store.retrySend(p.client_id)}>Retry</button>{" "}
          <button type="button" onClick={() => store.discard(p.client_id)}>Discard</button>
        </p>
      )}
    </div>
  );
}
