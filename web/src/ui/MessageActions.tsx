import { useState } from "react";
import { Copy, Pencil, Reply, SmilePlus, Trash2 } from "lucide-react";
import { Dialog } from "./Dialog";

/** The reactions offered at one tap, as in the common messengers. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"] as const;

/** What the user may do to a message; each async one rejects with the error to show. */
export interface BubbleActions {
  reply: () => void;
  react: (emoji: string) => Promise<void>;
  /** The text to copy (none for a media message without a caption). */
  copyText?: string;
  /** One's own messages. */
  edit?: (body: string) => Promise<void>;
  /** Delete for everyone: one's own messages, and any in a group one administers. */
  remove?: () => Promise<void>;
  /** Delete for me: hidden on this device. */
  hide: () => void;
}

export const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The hover/focus bar of a message: reply, react, copy, edit, delete. */
export function MessageActions({ actions, onEdit, onError }: { actions: BubbleActions; onEdit: () => void; onError: (e: string | null) => void }) {
  const [picking, setPicking] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [copied, setCopied] = useState(false);

  async function react(emoji: string) {
    setPicking(false);
    onError(null);
    try {
      await actions.react(emoji);
    } catch (e) {
      onError(`No reaction: ${reason(e)}`);
    }
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(actions.copyText ?? "");
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      onError("Copying is not allowed here: select the text instead.");
    }
  }

  async function removeForEveryone() {
    setDeleting(false);
    onError(null);
    try {
      await actions.remove!();
    } catch (e) {
      onError(`Not deleted: ${reason(e)}`);
    }
  }

  return (
    <>
      <div className="msg-actions" role="group" aria-label="Message actions">
        <button type="button" className="icon" aria-label="Reply" title="Reply" onClick={actions.reply}><Reply size={15} aria-hidden="true" /></button>
        <button type="button" className="icon" aria-label="React" title="React" aria-expanded={picking} onClick={() => setPicking((p) => !p)}>
          <SmilePlus size={15} aria-hidden="true" />
        </button>
        {actions.copyText ? (
          <button type="button" className="icon" aria-label={copied ? "Copied" : "Copy text"} title={copied ? "Copied" : "Copy"} onClick={() => void copy()}>
            <Copy size={15} aria-hidden="true" />
          </button>
        ) : null}
        {actions.edit && (
          <button type="button" className="icon" aria-label="Edit message" title="Edit" onClick={() => { onError(null); onEdit(); }}>
            <Pencil size={15} aria-hidden="true" />
          </button>
        )}
        <button type="button" className="icon" aria-label="Delete message" title="Delete" onClick={() => setDeleting(true)}>
          <Trash2 size={15} aria-hidden="true" />
        </button>
      </div>
      {picking && (
        <div className="quick-reactions" role="menu" aria-label="Pick a reaction" onKeyDown={(e) => e.key === "Escape" && setPicking(false)}>
          {QUICK_REACTIONS.map((e) => (
            <button key={e} type="button" role="menuitem" className="emoji" aria-label={`React ${e}`} onClick={() => void react(e)}>{e}</button>
          ))}
        </div>
      )}
      {copied && <span className="copied" role="status">Copied</span>}
      {deleting && (
        <Dialog title="Delete message?" onClose={() => setDeleting(false)}>
          <p>{actions.remove ? "Delete it for everyone in the chat, or only hide it on this device?" : "Hide it on this device? The others keep it."}</p>
          <div className="dialog-actions">
            <button type="button" className="link" onClick={() => setDeleting(false)}>Cancel</button>
            <button type="button" onClick={() => { setDeleting(false); actions.hide(); }}>Delete for me</button>
            {actions.remove && <button type="button" className="danger" onClick={() => void removeForEveryone()}>Delete for everyone</button>}
          </div>
        </Dialog>
      )}
    </>
  );
}
