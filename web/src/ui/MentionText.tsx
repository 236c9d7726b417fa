import { useMemo } from "react";
import { mentionParts } from "../mentions";
import { useChat, useStore } from "./hooks";
import "./mentions.css";

/** A message body with its @mentions of known people highlighted, the one naming you the most. Other
 * "@words" stay plain text (the server counts only current members, and this client knows their names). */
export function MentionText({ text }: { text: string }) {
  const store = useStore();
  const profiles = useChat((s) => s.profiles);
  const mine = store.state.me.username.toLowerCase();
  const known = useMemo(() => new Set(Object.values(profiles).map((p) => p.username?.toLowerCase())), [profiles]);
  const parts = useMemo(() => mentionParts(text), [text]);
  if (parts.length === 1) return <>{text}</>;
  return (
    <>
      {parts.map((p, i) => (p.user && (p.user === mine || known.has(p.user))
        ? <span key={i} className={p.user === mine ? "mention me" : "mention"} data-mention={p.user}>{p.text}</span>
        : p.text))}
    </>
  );
}
