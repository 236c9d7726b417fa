import { useState, type MouseEvent, type ReactNode } from "react";
import type { Message } from "../protocol/types";
import type { Tick } from "../store/logic";
import { fileSize, timeOfDay } from "./format";
import { useMediaLinks, useMediaUrl } from "./hooks";
import { Dialog } from "./Dialog";

const TICK_LABEL: Record<Tick, string> = { pending: "sending", sent: "sent", delivered: "delivered", read: "read" };
const TICK_ICON: Record<Tick, string> = { pending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓" };

export function MessageBubble({ m, mine, tick, author }: { m: Message; mine: boolean; tick?: Tick; author?: string }) {
  return (
    <article className={`msg ${mine ? "mine" : "theirs"}`} data-seq={m.seq || undefined} aria-label={mine ? "Your message" : `Message from ${author ?? "them"}`}>
      {author && <p className="author">{author}</p>}
      {m.deleted ? <p className="body deleted">Message deleted</p> : (
        <>
          {m.media && <MediaView m={m} />}
          {m.body && <p className="body">{m.body}</p>}
        </>
      )}
      <footer className="meta">
        {m.edited_ts && !m.deleted ? <span>edited · </span> : null}
        <time dateTime={new Date(m.ts).toISOString()}>{timeOfDay(m.ts)}</time>
        {tick && <span className={`tick ${tick}`} data-tick={tick} aria-label={TICK_LABEL[tick]} title={TICK_LABEL[tick]}>{TICK_ICON[tick]}</span>}
      </footer>
    </article>
  );
}

function MediaView({ m }: { m: Message }) {
  const media = m.media!;
  const name = media.file_name ?? "file";
  if (m.seq === 0) return <p className="file">📎 {name} ({fileSize(media.size)})</p>;
  return <SignedMedia m={m} />;
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
  return <Download id={media.id} name={name} className="file">📎 {name} <small>({fileSize(media.size)})</small></Download>;
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
