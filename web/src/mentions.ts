// @mentions, read as the server reads them (protocol/mentions.py): `@` + a username (3-32 of letters,
// digits, `_` and `.`), not preceded by a word character or another `@` (so e-mail addresses are not
// mentions); dots at the end are sentence punctuation. Usernames compare case-insensitively.

const WORD_OR_AT = /[\p{L}\p{N}_@]/u; // Python's \w (Unicode) plus "@"
const MENTION = /(?<![\p{L}\p{N}_@])@([A-Za-z0-9_.]{3,40})/gu;
const NAME_CHAR = /[A-Za-z0-9_.]/;
export const MIN_NAME = 3;
export const MAX_NAME = 32;

/** A piece of a message body: plain text, or a mention (`user` lower-cased, `text` with its "@"). */
export type BodyPart = { text: string; user?: string };

/** Split `body` into text and the mentions the server would count. */
export function mentionParts(body: string): BodyPart[] {
  if (!body.includes("@")) return [{ text: body }];
  const parts: BodyPart[] = [];
  let at = 0;
  for (const m of body.matchAll(MENTION)) {
    const name = m[1]!.replace(/\.+$/, "");
    if (name.length < MIN_NAME || name.length > MAX_NAME) continue;
    const start = m.index;
    if (start > at) parts.push({ text: body.slice(at, start) });
    parts.push({ text: `@${name}`, user: name.toLowerCase() });
    at = start + 1 + name.length;
  }
  if (at < body.length) parts.push({ text: body.slice(at) });
  return parts;
}

/** The mention being typed at `caret`: where its "@" is and what follows it so far, or null. */
export function mentionQueryAt(text: string, caret: number): { start: number; query: string } | null {
  let i = caret;
  while (i > 0 && NAME_CHAR.test(text[i - 1]!) && caret - i <= MAX_NAME) i--;
  if (i === 0 || text[i - 1] !== "@" || caret - i > MAX_NAME) return null;
  const start = i - 1;
  if (start > 0 && WORD_OR_AT.test(text[start - 1]!)) return null; // an e-mail address, "@@"
  return { start, query: text.slice(i, caret) };
}

/** Replace the mention typed from `start` (its "@") up to the end of the name under the caret with
 * `@username ` and put the caret after it. */
export function insertMention(text: string, start: number, caret: number, username: string): { text: string; caret: number } {
  let end = caret;
  while (end < text.length && NAME_CHAR.test(text[end]!)) end++;
  const rest = text.slice(end);
  const insert = `@${username}${/^\s/.test(rest) ? "" : " "}`;
  return { text: text.slice(0, start) + insert + rest, caret: start + insert.length + (/^\s/.test(rest) ? 1 : 0) };
}

export interface MentionCandidate {
  user: number;
  username: string;
  displayName?: string;
}

/** The members a query matches, best first: username prefix, then a word of the display name, then
 * anywhere in either; at most `limit`. */
export function matchMembers(members: MentionCandidate[], query: string, limit = 8): MentionCandidate[] {
  const q = query.toLowerCase();
  const rank = (c: MentionCandidate): number => {
    const u = c.username.toLowerCase();
    const d = (c.displayName ?? "").toLowerCase();
    if (u.startsWith(q)) return 0;
    if (d.split(/\s+/).some((w) => w.startsWith(q))) return 1;
    if (u.includes(q) || d.includes(q)) return 2;
    return -1;
  };
  return members
    .map((c) => ({ c, r: rank(c) }))
    .filter((x) => x.r >= 0)
    .sort((a, b) => a.r - b.r || a.c.username.localeCompare(b.c.username))
    .slice(0, limit)
    .map((x) => x.c);
}
