// The message composer: a text box that grows with its text (Enter sends, Shift+Enter is a new line, an
// input method's Enter never sends), an emoji picker (loaded on first use), @mention suggestions from the
// room's members, and files (attach button, drop on the conversation, paste) previewed with a caption
// before they go through the upload + send path of attach.ts.
import { lazy, Suspense, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { Paperclip, SendHorizontal, Smile } from "lucide-react";
import { useChat, useStore } from "./hooks";
import { sendFile } from "../attach";
import { insertMention, matchMembers, mentionQueryAt, type MentionCandidate } from "../mentions";
import { MAX_BODY } from "../store/logic";
import { composerAction, insertAtCaret, step } from "./composer/keys";
import { dragHasFiles, filesIn, MAX_STAGED, pastedFiles } from "./composer/files";
import { MentionMenu } from "./composer/MentionMenu";
import { AttachmentDialog } from "./composer/AttachmentDialog";
import "./composer/composer.css";

const loadPicker = () => import("./composer/EmojiPicker");
const EmojiPanel = lazy(loadPicker);
const PROFILES_AT_ONCE = 50;
/** Unsent text per room while the tab lives: switching chats keeps each one's draft. */
const drafts = new Map<number, string>();

export function Composer({ room }: { room: number }) {
  const store = useStore();
  const [text, setTextState] = useState(() => drafts.get(room) ?? "");
  const setText = (value: string) => {
    setTextState(value);
    if (value) drafts.set(room, value);
    else drafts.delete(room);
  };
  const [caret, setCaret] = useState(0); // where the caret is (-1: a selection), for @mentions
  const [emojiOpen, setEmojiOpen] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const caretNext = useRef<number | null>(null);
  const typingSent = useRef(0);
  const stopTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const allUploads = useChat((s) => s.uploads);
  const uploads = useMemo(() => Object.values(allUploads).filter((u) => u.room === room), [allUploads, room]);

  // ------------------------------------------------------------------ text, caret, height
  function change(value: string, caret?: number) {
    setText(value);
    if (caret !== undefined) caretNext.current = caret;
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

  useEffect(() => () => { // leaving the chat while typing: the others stop seeing "typing…" at once
    if (stopTimer.current) clearTimeout(stopTimer.current);
    if (typingSent.current) store.typing(room, false);
  }, [store, room]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = "auto"; // then as tall as the text, up to the CSS max-height (it scrolls after that)
    el.style.height = `${el.scrollHeight + el.offsetHeight - el.clientHeight}px`;
    if (caretNext.current !== null) {
      el.focus();
      el.setSelectionRange(caretNext.current, caretNext.current);
      caretNext.current = null;
      setCaret(el.selectionStart);
    }
  }, [text]);

  function submit(e?: FormEvent) {
    e?.preventDefault();
    const body = text.trim();
    if (!body) return;
    if (stopTimer.current) clearTimeout(stopTimer.current);
    typingSent.current = 0;
    setText("");
    setCaret(0);
    void store.sendText(room, body);
  }

  // ------------------------------------------------------------------ @mentions
  const [dismissed, setDismissed] = useState<string | null>(null); // "start:query" Escape closed
  // the highlighted suggestion, with the "start:query" it was moved in: another query starts at the first again
  const [highlight, setHighlight] = useState({ query: "", index: 0 });
  const members = useChat((s) => s.views[room]?.members);
  const profiles = useChat((s) => s.profiles);
  const me = store.state.me.userId;
  const candidates = useMemo<MentionCandidate[]>(() => (members ?? []).filter((m) => m.user !== me)
    .map((m) => ({ user: m.user, username: profiles[m.user]?.username ?? m.username, displayName: profiles[m.user]?.display_name })),
  [members, profiles, me]);
  const query = mentionQueryAt(text, caret);
  const [qStart, qText] = [query?.start, query?.query];
  const queryKey = `${qStart}:${qText}`;
  const mentioning = qText !== undefined && queryKey !== dismissed && !emojiOpen;
  const matches = useMemo(() => (mentioning ? matchMembers(candidates, qText) : []), [candidates, mentioning, qText]);
  const active = highlight.query === queryKey ? highlight.index : 0;
  const setActive = (next: number | ((i: number) => number)) =>
    setHighlight({ query: queryKey, index: typeof next === "function" ? next(active) : next });
  const menuOpen = matches.length > 0;
  const menuId = `mentions-${room}`;
  // Display names: the room's member list has usernames only, so profiles are asked for once a mention
  // is being typed: those the query matches first, then the others, PROFILES_AT_ONCE per keystroke at most.
  const asked = useRef(new Set<number>());
  useEffect(() => {
    if (!mentioning) return;
    const pool = [...matchMembers(candidates, qText, PROFILES_AT_ONCE), ...candidates].map((c) => c.user);
    const missing = [...new Set(pool)].filter((u) => !asked.current.has(u)).slice(0, PROFILES_AT_ONCE);
    missing.forEach((u) => asked.current.add(u));
    if (missing.length) void store.loadProfiles(missing).then((again) => again.forEach((u) => asked.current.delete(u)));
  }, [mentioning, qText, candidates, store]);

  function follow(el: HTMLTextAreaElement) {
    setCaret(el.selectionStart === el.selectionEnd ? el.selectionStart : -1);
  }

  function pick(c: MentionCandidate) {
    if (!query) return;
    const next = insertMention(text, query.start, caret, c.username);
    change(next.text, next.caret);
  }

  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    const action = composerAction({
      key: e.key, shiftKey: e.shiftKey, ctrlKey: e.ctrlKey, altKey: e.altKey, metaKey: e.metaKey,
      isComposing: e.nativeEvent.isComposing, keyCode: e.keyCode,
    }, menuOpen, store.state.replying[room] !== undefined);
    if (!action) return;
    e.preventDefault();
    if (action === "send") submit();
    else if (action === "menu-next") setActive((i) => step(i, matches.length, 1));
    else if (action === "menu-prev") setActive((i) => step(i, matches.length, -1));
    else if (action === "menu-pick") pick(matches[active] ?? matches[0]!);
    else if (action === "menu-close") setDismissed(`${qStart}:${qText}`);
    else if (action === "cancel-reply") store.replyTo(room, null);
  }

  // ------------------------------------------------------------------ emoji
  const emojiButton = useRef<HTMLButtonElement>(null);
  const popover = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!emojiOpen) return;
    const outside = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!popover.current?.contains(t) && !emojiButton.current?.contains(t)) setEmojiOpen(false);
    };
    document.addEventListener("pointerdown", outside);
    return () => document.removeEventListener("pointerdown", outside);
  }, [emojiOpen]);

  function closeEmoji() {
    setEmojiOpen(false);
    box.current?.focus();
  }

  function insertEmoji(emoji: string) {
    const el = box.current;
    const next = insertAtCaret(text, el?.selectionStart ?? text.length, el?.selectionEnd ?? text.length, emoji);
    change(next.text);
    // the picker keeps focus (several emoji in a row); the text box keeps the caret for the next one
    requestAnimationFrame(() => el?.setSelectionRange(next.caret, next.caret));
  }

  // ------------------------------------------------------------------ files: attach, drop, paste
  const [staged, setStaged] = useState<File[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [dropRect, setDropRect] = useState<DOMRect | null>(null);

  function stage(files: File[]) {
    if (!files.length) return;
    setEmojiOpen(false);
    setStaged((prev) => {
      const all = [...(prev ?? []), ...files];
      setNotice(all.length > MAX_STAGED ? `At most ${MAX_STAGED} files at a time: the first ${MAX_STAGED} are kept.` : null);
      return all.slice(0, MAX_STAGED);
    });
  }

  async function sendStaged(files: File[], caption: string) {
    setStaged(null);
    setNotice(null);
    change("");
    box.current?.focus();
    // one after the other: the server takes a few uploads of a user at once (CHAT_UPLOADS_AT_ONCE)
    for (const [i, f] of files.entries()) await sendFile(store, room, f, i === 0 ? caption : "");
  }

  useEffect(() => {
    const zone = wrap.current?.closest<HTMLElement>(".chat") ?? wrap.current;
    if (!zone) return;
    let depth = 0; // dragenter/dragleave pairs, one per element crossed
    const over = (e: DragEvent) => {
      if (!dragHasFiles(e.dataTransfer)) return;
      e.preventDefault(); // allow the drop
      if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
    };
    const enter = (e: DragEvent) => {
      if (!dragHasFiles(e.dataTransfer)) return;
      depth++;
      setDropRect(zone.getBoundingClientRect());
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (!depth) setDropRect(null);
    };
    const drop = (e: DragEvent) => {
      depth = 0;
      setDropRect(null);
      const files = filesIn(e.dataTransfer);
      if (!files.length) return;
      e.preventDefault();
      stage(files);
    };
    const paste = (e: Event) => {
      const files = pastedFiles((e as ClipboardEvent).clipboardData);
      if (!files.length) return; // text: the browser pastes it
      e.preventDefault();
      stage(files);
    };
    zone.addEventListener("dragover", over);
    zone.addEventListener("dragenter", enter);
    zone.addEventListener("dragleave", leave);
    zone.addEventListener("drop", drop);
    zone.addEventListener("paste", paste);
    return () => {
      zone.removeEventListener("dragover", over);
      zone.removeEventListener("dragenter", enter);
      zone.removeEventListener("dragleave", leave);
      zone.removeEventListener("drop", drop);
      zone.removeEventListener("paste", paste);
    };
  }, [room]); // stage() only sets state

  return (
    <div className="composer-wrap" ref={wrap}>
      {(uploads.length > 0 || notice) && (
        <ul className="uploads" aria-label="Uploads">
          {notice && (
            <li>
              <span className="error" role="alert">{notice}</span>
              <button type="button" className="link" onClick={() => setNotice(null)}>Dismiss</button>
            </li>
          )}
          {uploads.map((u) => (
            <li key={u.key}>
              <span className="upload-name">{u.name}</span>
              {u.error ? <span className="error" role="alert">Not sent: {u.error}</span>
                : <progress max={1} value={u.progress} aria-label={`Uploading ${u.name}`}>{Math.round(u.progress * 100)}%</progress>}
              <button type="button" className="link" onClick={() => { u.abort(); store.setUpload(null, u.key); }}>{u.error ? "Dismiss" : "Cancel"}</button>
            </li>
          ))}
        </ul>
      )}
      {menuOpen && <MentionMenu id={menuId} items={matches} active={active} onPick={pick} onHover={setActive} />}
      {emojiOpen && (
        <div className="emoji-popover" ref={popover} role="dialog" aria-label="Emoji picker">
          <Suspense fallback={<div className="emoji-picker emoji-loading">Loading emoji…</div>}>
            <EmojiPanel onPick={insertEmoji} onClose={closeEmoji} />
          </Suspense>
        </div>
      )}
      <form className="composer" onSubmit={submit}>
        <input ref={fileRef} type="file" className="visually-hidden" multiple tabIndex={-1} aria-hidden="true"
          onChange={(e) => { stage([...(e.target.files ?? [])]); e.target.value = ""; }} />
        <button type="button" className="icon" aria-label="Attach a photo, video or file" title="Attach a photo, video or file"
          onClick={() => fileRef.current?.click()}>
          <Paperclip size={20} aria-hidden="true" />
        </button>
        <button type="button" ref={emojiButton} className={`icon${emojiOpen ? " on" : ""}`} aria-label="Emoji" title="Emoji"
          aria-haspopup="dialog" aria-expanded={emojiOpen} onPointerEnter={() => void loadPicker()}
          onClick={() => (emojiOpen ? closeEmoji() : setEmojiOpen(true))}>
          <Smile size={20} aria-hidden="true" />
        </button>
        <label className="visually-hidden" htmlFor={`compose-${room}`}>Message</label>
        <textarea id={`compose-${room}`} ref={box} rows={1} placeholder="Message" value={text} maxLength={MAX_BODY}
          aria-autocomplete="list" aria-controls={menuOpen ? menuId : undefined}
          aria-activedescendant={menuOpen ? `${menuId}-${active}` : undefined}
          onKeyDown={onKey} onChange={(e) => { change(e.target.value); follow(e.target); }}
          onSelect={(e) => follow(e.currentTarget)}
          onBlur={() => typingSent.current && store.typing(room, false)} />
        <button type="submit" className="primary send" aria-label="Send" title="Send (Enter)" disabled={!text.trim()}>
          <SendHorizontal size={20} aria-hidden="true" />
        </button>
      </form>
      {dropRect && (
        <div className="drop-overlay" aria-hidden="true"
          style={{ left: dropRect.left, top: dropRect.top, width: dropRect.width, height: dropRect.height }}>
          <span><Paperclip size={28} /> Drop files to send them</span>
        </div>
      )}
      {staged && (
        <AttachmentDialog files={staged} caption={text.trim()} onSend={(f, c) => void sendStaged(f, c)}
          onCancel={() => { setStaged(null); setNotice(null); box.current?.focus(); }}
          onRemove={(f) => setStaged((s) => s?.filter((x) => x !== f) ?? null)} />
      )}
    </div>
  );
}
