import { useEffect, useState } from "react";
import type { Message } from "../protocol/types";
import { previewText } from "../store/logic";
import { useStore } from "./hooks";

/** What a quote says of a message: as the room list previews it (a reply never answers a system message). */
export function snippet(m: Message | undefined): string {
  if (!m) return "Original message not available";
  return m.deleted ? "This message was deleted" : previewText(m, () => "");
}

/** The message a reply answers, fetched when this device does not hold it; a tap jumps to it. */
export function ReplyQuote({ room, seq, jump }: { room: number; seq: number; jump?: (seq: number) => void }) {
  const store = useStore();
  const key = `${room}:${seq}`;
  const [fetched, setFetched] = useState<{ key: string; message: Message | undefined } | null>(null);
  const raw = store.state.views[room]?.messages.find((m) => m.seq === seq);
  const held = raw && store.timeline.shown(raw); // an encrypted original: its plaintext
  useEffect(() => {
    if (held) return;
    let live = true;
    void store.findMessage(room, seq).then((message) => live && setFetched({ key: `${room}:${seq}`, message }));
    return () => { live = false; };
  }, [store, room, seq, held]);
  // undefined: no such message; null: still looking
  const found = fetched?.key === key ? fetched.message : null;
  const target: Message | undefined | null = held ?? (found ? store.timeline.shown(found) : found);
  const author = target?.sender !== undefined ? store.name(target.sender) : "";
  const text = target === null ? "…" : snippet(target);
  return (
    <button type="button" className="quote" onClick={() => jump?.(seq)} disabled={!jump || !target}
      aria-label={`Reply to ${author || "a message"}: ${text}. Show the original`}>
      {author && <strong>{author}</strong>}
      <span>{text}</span>
    </button>
  );
}
