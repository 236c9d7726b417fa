import { useState } from "react";
import type { Message } from "../protocol/types";
import type { Tick } from "../store/logic";
import { fileSize, timeOfDay } from "./format";
import { useMediaUrl } from "./hooks";
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
  const [open, setOpen] = useState(false);
  const media = m.media!;
  const name = media.file_name ?? "file";
  const full = useMediaUrl(media.id);
  const thumb = useMediaUrl(media.thumbnail_id ?? media.id);
  if (m.kind === "image" || media.mime.startsWith("image/")) {
    const w = media.width ?? 320, h = media.height ?? 240;
    const scale = Math.min(1, 280 / w, 280 / h);
    return (
      <>
        <button type="button" className="thumb" aria-label={`Open photo ${name}`} onClick={() => setOpen(true)}>
          <img src={thumb.url} alt={m.body || name} width={Math.round(w * scale)} height={Math.round(h * scale)} loading="lazy" onError={thumb.retry} />
        </button>
        {open && (
          <Dialog title={name} onClose={() => setOpen(false)} wide>
            <img className="full" src={full.url} alt={m.body || name} onError={full.retry} />
            <p><a href={full.url} download={name}>Download ({fileSize(media.size)})</a></p>
          </Dialog>
        )}
      </>
    );
  }
  if (m.kind === "video" || media.mime.startsWith("video/")) {
    return <video className="video" controls preload="metadata" src={full.url} width={media.width} aria-label={`Video ${name}`} onError={full.retry} />;
  }
  if (m.kind === "audio" || media.mime.startsWith("audio/")) {
    return <audio controls preload="metadata" src={full.url} aria-label={`Audio ${name}`} onError={full.retry} />;
  }
  return <a className="file" href={full.url} download={name}>📎 {name} <small>({fileSize(media.size)})</small></a>;
}
