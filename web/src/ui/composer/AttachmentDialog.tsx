import { useEffect, useMemo, useRef, useState } from "react";
import { FileText, Music, X } from "lucide-react";
import { Dialog } from "../Dialog";
import { fileSize } from "../format";
import { MAX_BODY } from "../../store/logic";
import { composerAction } from "./keys";
import { fileProblem, previewKind } from "./files";

/** The files about to be sent, with a caption (the first file carries it): Send, or Cancel / Escape. */
export function AttachmentDialog({ files, caption: initial, onSend, onCancel, onRemove }: {
  files: File[];
  caption: string;
  onSend: (files: File[], caption: string) => void;
  onCancel: () => void;
  onRemove: (file: File) => void;
}) {
  const [caption, setCaption] = useState(initial);
  const box = useRef<HTMLTextAreaElement>(null);
  const sendable = files.filter((f) => !fileProblem(f));
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);

  const send = () => sendable.length && onSend(sendable, caption.trim());
  const title = files.length === 1 ? "Send 1 file" : `Send ${files.length} files`;
  return (
    <Dialog title={title} onClose={onCancel}>
      <ul className={files.length === 1 ? "attach-list single" : "attach-list"} aria-label="Files to send">
        {files.map((f, i) => <Preview key={`${i}-${f.name}-${f.size}`} file={f} onRemove={files.length > 1 ? () => onRemove(f) : undefined} />)}
      </ul>
      <label className="visually-hidden" htmlFor="attach-caption">Caption</label>
      <textarea id="attach-caption" ref={box} className="attach-caption" placeholder="Add a caption…" rows={2}
        maxLength={MAX_BODY} value={caption} onChange={(e) => setCaption(e.target.value)}
        onKeyDown={(e) => {
          const action = composerAction({ key: e.key, shiftKey: e.shiftKey, altKey: e.altKey, isComposing: e.nativeEvent.isComposing, keyCode: e.keyCode }, false);
          if (action !== "send") return;
          e.preventDefault();
          send();
        }} />
      <div className="attach-actions">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="button" className="primary" disabled={!sendable.length} onClick={send}>Send</button>
      </div>
    </Dialog>
  );
}

function Preview({ file, onRemove }: { file: File; onRemove?: () => void }) {
  const kind = previewKind(file.type);
  const url = useMemo(() => (kind === "image" || kind === "video" ? URL.createObjectURL(file) : undefined), [file, kind]);
  useEffect(() => () => { if (url) URL.revokeObjectURL(url); }, [url]);
  const problem = fileProblem(file);
  const name = file.name || "file";
  return (
    <li className={problem ? "attach-item bad" : "attach-item"}>
      <div className="attach-visual">
        {kind === "image" && url ? <img src={url} alt={`Preview of ${name}`} />
          : kind === "video" && url ? <video src={url} muted preload="metadata" aria-label={`Preview of ${name}`} />
            : kind === "audio" ? <Music aria-hidden="true" size={32} /> : <FileText aria-hidden="true" size={32} />}
      </div>
      <div className="attach-info">
        <span className="attach-name" title={name}>{name}</span>
        {problem ? <span className="error" role="alert">{problem}</span> : <small>{fileSize(file.size)}</small>}
      </div>
      {onRemove && (
        <button type="button" className="icon" aria-label={`Remove ${name}`} title="Remove" onClick={onRemove}><X size={16} aria-hidden="true" /></button>
      )}
    </li>
  );
}
