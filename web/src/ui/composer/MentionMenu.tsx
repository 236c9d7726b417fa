import type { MentionCandidate } from "../../mentions";

/** The @mention suggestions above the text box: a listbox the text box drives (aria-activedescendant),
 * so focus never leaves the text box; a click picks too. */
export function MentionMenu({ id, items, active, onPick, onHover }: {
  id: string;
  items: MentionCandidate[];
  active: number;
  onPick: (c: MentionCandidate) => void;
  onHover: (index: number) => void;
}) {
  return (
    <ul className="mention-menu" id={id} role="listbox" aria-label="Mention someone">
      {items.map((c, i) => (
        <li key={c.user} id={`${id}-${i}`} role="option" aria-selected={i === active}
          className={i === active ? "active" : undefined}
          onMouseDown={(e) => e.preventDefault() /* keep the caret in the text box */}
          onMouseEnter={() => onHover(i)} onClick={() => onPick(c)}>
          <span className="mention-avatar" aria-hidden="true">{(c.displayName || c.username).slice(0, 1).toUpperCase()}</span>
          <span className="mention-names">
            {c.displayName ? <>
              <span className="mention-display">{c.displayName}</span>
              <span className="mention-username">@{c.username}</span>
            </> : <span className="mention-display">@{c.username}</span>}
          </span>
        </li>
      ))}
    </ul>
  );
}
