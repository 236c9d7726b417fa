import { useEffect, useRef, type ReactNode } from "react";
import { X } from "lucide-react";

/** A modal on the native <dialog>: focus is trapped, Esc closes it. */
export function Dialog({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} className={wide ? "dialog wide" : "dialog"} aria-label={title} onClose={onClose}
      onClick={(e) => e.target === ref.current && onClose()}>
      <header className="dialog-head">
        <h2>{title}</h2>
        <button type="button" className="icon" aria-label="Close" onClick={onClose}><X size={20} aria-hidden="true" /></button>
      </header>
      <div className="dialog-body">{children}</div>
    </dialog>
  );
}
