import { useEffect, useRef, useState, type KeyboardEvent, type MouseEvent, type ReactNode } from "react";
import { Check, CheckCheck, Clock, KeyRound, Paperclip, ShieldAlert, type LucideIcon } from "lucide-react";
import type { E2eeShown } from "../crypto/timeline";
import type { EncryptedMedia } from "../crypto/wire";
import { decryptFile } from "../crypto/attachment";
import type { Message } from "../protocol/types";
import { editProblem, MAX_BODY, type Tick } from "../store/logic";
import { fileSize, timeOfDay } from "./format";
import { useMediaLinks, useMediaUrl } from "./hooks";
import { Dialog } from "./Dialog";
import { MentionText } from "./MentionText";
import { MessageActions, reason, type BubbleActions } from "./MessageActions";
import { Reactions } from "./Reactions";
import { ReplyQuote } from "./ReplyQuote";

export type { BubbleActions } from "./MessageActions";

const TICK_LABEL: Record<Tick, string> = { pending: "sending", sent: "sent", delivered: "delivered", read: "read" };
const TICK_ICON: Record<Tick, LucideIcon> = { pending: Clock, sent: Check, delivered: CheckCheck, read: CheckCheck };

/** Who reacted, for the chips' labels, and the jump to a reply's original. */
export interface BubbleContext {
  me: number;
  name: (user: number) => string;
  jump?: (seq: number) => void;
}

/** `lead`: in a group, the sender's avatar beside their first message of a run (null: the space for it, on the
 * run's next messages); `cont`: the message follows one of the same sender (drawn closer, no tail). */
export function MessageBubble({ m, mine, tick, author, actions, context, lead, cont }: {
  m: Message; mine: boolean; tick?: Tick; author?: string; actions?: BubbleActions; context?: BubbleContext;
  lead?: ReactNode | null; cont?: boolean;
}) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const self = useRef<HTMLElement>(null);
  const refocus = useRef(false);
  useEffect(() => {
    if (!editing && refocus.current) self.current?.querySelector<HTMLElement>("[aria-label='Edit message']")?.focus();
    refocus.current = false;
  }, [editing]);
  const stopEditing = () => { refocus.current = true; setEditing(false); };

  const e2ee = (m as { e2ee?: E2eeShown }).e2ee;
  const canAct = actions && !m.deleted;
  const bubble = (
    <article ref={self} className={`msg ${mine ? "mine" : "theirs"}${editing ? " editing" : ""}${cont ? " cont" : ""}`} data-seq={m.seq || undefined}
      tabIndex={canAct ? -1 : undefined} aria-label={mine ? "Your message" : `Message from ${author ?? "them"}`}>
      {author && <p className="author">{author}</p>}
      {m.reply_to !== undefined && !m.deleted && <ReplyQuote room={m.room} seq={m.reply_to} jump={context?.jump} />}
      {m.deleted ? <p className="body deleted">This message was deleted</p> : e2ee && e2ee.state !== "ok" ? <Undecrypted e2ee={e2ee} /> : (
        <>
          {m.media && <MediaView m={m} />}
          {editing && actions?.edit
            ? <EditBox initial={m.body ?? ""} save={actions.edit} done={stopEditing} />
            : m.body && <p className="body"><MentionText text={m.body} /></p>}
        </>
      )}
      {canAct && !editing && <MessageActions actions={actions} onEdit={() => setEditing(true)} onError={setError} />}
      {error && <p className="action-error" role="alert">{error}</p>}
      {m.reactions?.length && context ? (
        <Reactions reactions={m.reactions} me={context.me} name={context.name}
          toggle={canAct ? (e) => { setError(null); actions.react(e).catch((x: unknown) => setError(`No reaction: ${reason(x)}`)); } : undefined} />
      ) : null}
      <footer className="meta">
        {m.edited_ts && !m.deleted ? <span className="edited">(edited)</span> : null}
        <time dateTime={new Date(m.ts).toISOString()}>{timeOfDay(m.ts)}</time>
        {tick && <TickIcon tick={tick} />}
      </footer>
    </article>
  );
  if (lead === undefined) return bubble;
  return <div className={`msg-row${cont ? " cont" : ""}`}>{lead ?? <span className="lead-space" aria-hidden="true" />}{bubble}</div>;
}

/** An encrypted message not readable (yet): waiting while a key may still come, "unable" once none can. */
function Undecrypted({ e2ee }: { e2ee: Exclude<E2eeShown, { state: "ok" }> }) {
  if (e2ee.state === "pending") {
    const where = e2ee.search === "backup" ? " (checking your key backup)" : e2ee.search === "requested" ? " (asking your other devices)" : "";
    return (
      <p className="body e2ee-note waiting" data-e2ee="pending">
        <KeyRound size={15} aria-hidden="true" /> Waiting for the key to decrypt this message{where}…
      </p>
    );
  }
  return (
    <p className="body e2ee-note failed" data-e2ee="failed" title={e2ee.reason}>
      <ShieldAlert size={15} aria-hidden="true" /> Unable to decrypt this message
    </p>
  );
}

function TickIcon({ tick }: { tick: Tick }) {
  const Icon = TICK_ICON[tick];
  return (
    <span className={`tick ${tick}`} data-tick={tick} role="img" aria-label={TICK_LABEL[tick]} title={TICK_LABEL[tick]}>
      <Icon size={15} strokeWidth={2.25} aria-hidden="true" />
    </span>
  );
}

/** Inline editing of a message's text: Enter saves, Shift+Enter is a new line, Escape cancels. */
function EditBox({ initial, save, done }: { initial: string; save: (body: string) => Promise<void>; done: () => void }) {
  const [text, setText] = useState(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);

  async function submit() {
    const body = text.trim();
    const bad = editProblem(body);
    if (bad) return setProblem(bad);
    if (body === initial) return done();
    setBusy(true);
    setProblem(null);
    try {
      await save(body);
      done();
    } catch (e) {
      setProblem(`Not saved: ${reason(e)}`);
      setBusy(false);
    }
  }

  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      done();
    } else if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void submit();
    }
  }

  return (
    <div className="edit-box">
      <textarea ref={box} aria-label="Edit message text" value={text} maxLength={MAX_BODY} rows={Math.min(8, text.split("\n").length + 1)}
        disabled={busy} onKeyDown={onKey} onChange={(e) => { setText(e.target.value); setProblem(null); }} />
      {problem && <p className="action-error" role="alert">{problem}</p>}
      <div className="edit-bar">
        <span className="edit-hint">Enter to save · Esc to cancel</span>
        <button type="button" className="link" onClick={done}>Cancel</button>
        <button type="button" className="primary" disabled={busy} onClick={() => void submit()}>Save</button>
      </div>
    </div>
  );
}

function MediaView({ m }: { m: Message }) {
  const media = m.media!;
  const name = media.file_name ?? "file";
  if (m.seq === 0) return <p className="file"><Paperclip size={16} aria-hidden="true" /> {name} ({fileSize(media.size)})</p>;
  const secret = (m as { secret?: EncryptedMedia }).secret;
  return secret ? <SecretMedia m={m} secret={secret} /> : <SignedMedia m={m} />;
}

/** Decrypted files of encrypted rooms, by media id: each is downloaded and decrypted once per tab. */
const decryptedFiles = new Map<string, Promise<string>>();

function decrypted(url: string, secret: EncryptedMedia): Promise<string> {
  let p = decryptedFiles.get(secret.id);
  if (!p) {
    p = fetch(url).then(async (res) => {
      if (!res.ok) throw new Error(`download failed (${res.status})`);
      const bytes = await decryptFile(await res.arrayBuffer(), secret);
      return URL.createObjectURL(new Blob([bytes], { type: secret.mime }));
    });
    p.catch(() => decryptedFiles.delete(secret.id)); // a failed try may be tried again
    decryptedFiles.set(secret.id, p);
  }
  return p;
}

/** A file of an encrypted room: the ciphertext through its signed link, decrypted here, shown from a blob. */
function SecretMedia({ m, secret }: { m: Message; secret: EncryptedMedia }) {
  const { url: signed } = useMediaUrl(secret.id);
  const [shown, setShown] = useState<{ id: string; url?: string; error?: string } | null>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!signed) return;
    let live = true;
    decrypted(signed, secret).then((url) => live && setShown({ id: secret.id, url }), (err: unknown) => live && setShown({ id: secret.id, error: reason(err) }));
    return () => { live = false; };
  }, [signed, secret]);
  const url = shown?.id === secret.id ? shown.url : undefined;
  const name = secret.name || "file";
  if (shown?.error) return <p className="file e2ee-note failed" role="alert">{name}: {shown.error}</p>;
  if (!url) return <p className="file e2ee-note waiting"><Paperclip size={16} aria-hidden="true" /> Decrypting {name}…</p>;
  if (m.kind === "image") {
    return (
      <>
        <button type="button" className="thumb" aria-label={`Open photo ${name}`} onClick={() => setOpen(true)}>
          <img src={url} alt={m.body || name} className="secret-photo" />
        </button>
        {open && (
          <Dialog title={name} onClose={() => setOpen(false)} wide>
            <img className="full" src={url} alt={m.body || name} />
            <p><a href={url} download={name}>Download ({fileSize(secret.size)})</a></p>
          </Dialog>
        )}
      </>
    );
  }
  if (m.kind === "video") return <video className="video" controls preload="metadata" src={url} aria-label={`Video ${name}`} />;
  if (m.kind === "audio") return <audio controls preload="metadata" src={url} aria-label={`Audio ${name}`} />;
  return <a className="file" href={url} download={name}><Paperclip size={16} aria-hidden="true" /> {name} <small>({fileSize(secret.size)})</small></a>;
}

/** Media shown through signed links (GET /api/media/links): no token in any URL. */
function SignedMedia({ m }: { m: Message }) {
  const media = m.media!;
  const name = media.file_name ?? "file";
  if (m.kind === "image" || media.mime.startsWith("image/")) return <Photo m={m} />;
  if (m.kind === "video" || media.mime.startsWith("video/")) {
    return <Player kind="video" id={media.id} label={`Video ${name}`} width={media.width} />;
  }
  if (m.kind === "audio" || media.mime.startsWith("audio/")) return <Player kind="audio" id={media.id} label={`Audio ${name}`} />;
  return <Download id={media.id} name={name} className="file"><Paperclip size={16} aria-hidden="true" /> {name} <small>({fileSize(media.size)})</small></Download>;
}

function Photo({ m }: { m: Message }) {
  const [open, setOpen] = useState(false);
  const media = m.media!;
  const name = media.file_name ?? "file";
  const thumb = useMediaUrl(media.thumbnail_id ?? media.id);
  const w = media.width ?? 320, h = media.height ?? 240;
  const scale = Math.min(1, 280 / w, 280 / h);
  return (
    <>
      <button type="button" className="thumb" aria-label={`Open photo ${name}`} onClick={() => setOpen(true)}>
        <img src={thumb.url} alt={m.body || name} width={Math.round(w * scale)} height={Math.round(h * scale)} loading="lazy" onError={thumb.onError} onLoad={thumb.onLoad} />
      </button>
      {open && (
        <Dialog title={name} onClose={() => setOpen(false)} wide>
          <FullPhoto id={media.id} alt={m.body || name} />
          <p><Download id={media.id} name={name}>Download ({fileSize(media.size)})</Download></p>
        </Dialog>
      )}
    </>
  );
}

function FullPhoto({ id, alt }: { id: string; alt: string }) {
  const full = useMediaUrl(id);
  return <img className="full" src={full.url} alt={alt} onError={full.onError} onLoad={full.onLoad} />;
}

function Player({ kind, id, label, width }: { kind: "video" | "audio"; id: string; label: string; width?: number }) {
  const { url, onError, onLoad } = useMediaUrl(id);
  const props = { controls: true, preload: "metadata", src: url, "aria-label": label, onError, onLoadedMetadata: onLoad };
  return kind === "video" ? <video className="video" width={width} {...props} /> : <audio {...props} />;
}

/** A download link: a stale link (the laptop slept, say) is signed afresh when clicked. */
function Download({ id, name, className, children }: { id: string; name: string; className?: string; children: ReactNode }) {
  const links = useMediaLinks();
  const { url } = useMediaUrl(id);
  async function click(e: MouseEvent<HTMLAnchorElement>) {
    if (url && links.peek(id) === url) return; // live: the browser follows it
    e.preventDefault();
    const fresh = await links.fresh(id);
    if (!fresh) return;
    const a = Object.assign(document.createElement("a"), { href: fresh, download: name });
    a.click();
  }
  return <a className={className} href={url} download={name} onClick={(e) => void click(e)}>{children}</a>;
}
