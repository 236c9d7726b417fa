import type { Reaction } from "../protocol/types";

/** A message's reactions as chips: the emoji and how many; one's own is marked, a tap toggles it. */
export function Reactions({ reactions, me, name, toggle }: {
  reactions: readonly Reaction[]; me: number; name: (user: number) => string; toggle?: (emoji: string) => void;
}) {
  return (
    <ul className="reactions" aria-label="Reactions">
      {reactions.map((r) => {
        const mine = r.users.includes(me);
        const who = r.users.map(name).join(", ");
        return (
          <li key={r.emoji}>
            <button type="button" className={`reaction${mine ? " mine" : ""}`} aria-pressed={mine} disabled={!toggle}
              title={who} aria-label={`${r.emoji} ${r.users.length}: ${who}${mine ? " (tap to remove yours)" : ""}`}
              onClick={() => toggle?.(r.emoji)}>
              <span className="emoji">{r.emoji}</span>{r.users.length > 1 && <span className="count">{r.users.length}</span>}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
