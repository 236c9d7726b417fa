// The emoji picker (frimousse), loaded on first use. Native emoji; the data comes from our own server
// (/emojibase, see vite.config.ts), never from a CDN, and frimousse keeps it in localStorage after that.
// Keyboard: the search box takes focus, arrows move through the grid, Enter picks, Escape closes.
import { EmojiPicker } from "frimousse";
import "./emoji-picker.css";

export default function EmojiPanel({ onPick, onClose }: { onPick: (emoji: string) => void; onClose: () => void }) {
  return (
    <EmojiPicker.Root className="emoji-picker" emojibaseUrl="/emojibase" columns={8}
      onEmojiSelect={({ emoji }) => onPick(emoji)}
      onKeyDown={(e) => {
        if (e.key !== "Escape") return;
        e.preventDefault();
        e.stopPropagation();
        onClose();
      }}>
      <EmojiPicker.Search className="emoji-search" placeholder="Search emoji" aria-label="Search emoji" autoFocus />
      <EmojiPicker.Viewport className="emoji-viewport" aria-label="Emoji">
        <EmojiPicker.Loading className="emoji-note">Loading emoji…</EmojiPicker.Loading>
        <EmojiPicker.Empty className="emoji-note">{({ search }) => <>No emoji for “{search}”</>}</EmojiPicker.Empty>
        <EmojiPicker.List className="emoji-list" />
      </EmojiPicker.Viewport>
      <footer className="emoji-foot">
        <EmojiPicker.ActiveEmoji>
          {({ emoji }) => <span className="emoji-active" aria-hidden="true">{emoji ? <><b>{emoji.emoji}</b> {emoji.label}</> : "Pick an emoji"}</span>}
        </EmojiPicker.ActiveEmoji>
        <EmojiPicker.SkinToneSelector className="emoji-skin" title="Skin tone" />
      </footer>
    </EmojiPicker.Root>
  );
}
