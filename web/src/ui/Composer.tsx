import { useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { useChat, useStore } from "./hooks";
import { sendFile } from "../attach";

export function Composer({ room }: { room: number }) {
  const store = useStore();
  const [text, setText] = useState("");
  const fileRef = useRef<HTMLInputElement>(null);
  const typingSent = useRef(0);
  const stopTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const allUploads = useChat((s) => s.uploads);
  const uploads = useMemo(() => Object.values(allUploads).filter((u) => u.room === room), [allUploads, room]);

  function onChange(value: string) {
    setText(value);
    if (stopTimer.current) clearTimeout(stopTimer.current);
    if (!value.trim()) {
      if (typingSent.current) store.typing(room, false);
      typingSent.current = 0;
      return;
    }
    if (Date.now() - typingSent.current > 3000) {
      store.typing(room, true);
      typingSent.current = Date.now();
    }
    stopTimer.current = setTimeout(() => {
      store.typing(room, false);
      typingSent.current = 0;
    }, 5000);
  }

  function submit(e?: FormEvent) {
    e?.preventDefault();
    const body = text.trim();
    if (!body) return;
    if (stopTimer.current) clearTimeout(stopTimer.current);
    typingSent.current = 0;
    setText("");
    void store.sendText(room, body);
  }

  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) submit(e);
  }

  function onFiles(files: FileList | null) {
    if (!files) return;
    const caption = text.trim();
    setText("");
    [...files].forEach((f, i) => void sendFile(store, room, f, i === 0 ? caption : ""));
    if (fileRef.current) fileRef.current.value = "";
  }

  return (
    <div className="composer-wrap">
      {uploads.length > 0 && (
        <ul className="uploads" aria-label="Uploads">
          {uploads.map((u) => (
            <li key={u.key}>
              <span className="upload-name">{u.name}</span>
              {u.error ? <span className="error" role="alert">{u.error}</span>
                : <progress max={1} value={u.progress} aria-label={`Uploading ${u.name}`}>{Math.round(u.progress * 100)}%</progress>}
              <button type="button" className="link" onClick={() => { u.abort(); store.setUpload(null, u.key); }}>{u.error ? "Dismiss" : "Cancel"}</button>
            </li>
          ))}
        </ul>
      )}
      <form className="composer" onSubmit={submit}>
        <input ref={fileRef} type="file" id={`attach-${room}`} className="visually-hidden" multiple
          accept="image/*,video/*,audio/*,application/pdf,application/zip,*/*" onChange={(e) => onFiles(e.target.files)} />
        <label htmlFor={`attach-${room}`} className="icon attach" title="Attach a photo, video or file" tabIndex={0}
          onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && fileRef.current?.click()}>
          📎<span className="visually-hidden">Attach a photo, video or file</span>
        </label>
        <label className="visually-hidden" htmlFor={`compose-${room}`}>Message</label>
        <textarea id={`compose-${room}`} rows={1} placeholder="Message" value={text} onKeyDown={onKey}
          onChange={(e) => onChange(e.target.value)} onBlur={() => typingSent.current && store.typing(room, false)} />
        <button type="submit" className="primary send" disabled={!text.trim()}>Send</button>
      </form>
    </div>
  );
}
