// What a key press in the composer's text box means (pure, so it is tested without a browser).

export interface KeyPress {
  key: string;
  shiftKey: boolean;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
  isComposing: boolean;
  keyCode?: number;
}

export type ComposerAction = "send" | "menu-next" | "menu-prev" | "menu-pick" | "menu-close" | "cancel-reply" | null;

/** null: let the browser do its default (type, move, Shift+Enter's new line). While an input method is
 * composing (isComposing, or keyCode 229 in Safari) nothing is ours: Enter there confirms a word.
 * Escape closes the mention menu first, then drops the message being replied to. */
export function composerAction(e: KeyPress, menuOpen: boolean, replying = false): ComposerAction {
  if (e.isComposing || e.keyCode === 229) return null;
  if (menuOpen) {
    if (e.key === "ArrowDown") return "menu-next";
    if (e.key === "ArrowUp") return "menu-prev";
    if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) return "menu-pick";
    if (e.key === "Escape") return "menu-close";
  }
  if (e.key === "Enter" && !e.shiftKey && !e.altKey) return "send";
  if (e.key === "Escape" && replying) return "cancel-reply";
  return null;
}

/** `text` with `insert` put in place of the selection [start, end); the caret goes after it. */
export function insertAtCaret(text: string, start: number, end: number, insert: string): { text: string; caret: number } {
  const a = Math.max(0, Math.min(start, text.length));
  const b = Math.max(a, Math.min(end, text.length));
  return { text: text.slice(0, a) + insert + text.slice(b), caret: a + insert.length };
}

/** The next highlighted row of a menu of `count` rows, wrapping around. */
export function step(index: number, count: number, by: 1 | -1): number {
  return count ? (index + by + count) % count : 0;
}
