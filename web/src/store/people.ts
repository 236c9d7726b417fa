// Pure helpers about people: initials and colours for avatars, which user ids a screen needs names for.
import type { Message } from "../protocol/types";

/** The server's media ids (httpapi/media.py MEDIA_ID): only these are fetched as pictures. An avatar may be
 * any text (a URL, say); loading a URL someone typed would tell its host who looks at the profile. */
export const isMediaId = (s: string): boolean => /^[A-Za-z0-9_-]{16,64}$/.test(s);

/** Up to two letters: the first of the first two words ("Ann Lee" -> "AL", "bob_99" -> "B"). */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/u).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0]!.toLocaleUpperCase());
  return letters.join("") || "?";
}

const PALETTE = ["#e17076", "#7bc862", "#e5ca77", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];

/** A background colour that stays the same for one person (or room) everywhere. */
export function avatarColor(seed: number | string): string {
  let h = 0;
  for (const ch of String(seed)) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

/** Every user a list of messages names: senders and the people in system events. */
export function usersNamedIn(messages: readonly Message[]): number[] {
  const ids = new Set<number>();
  for (const m of messages) {
    if (m.sender !== undefined) ids.add(m.sender);
    const ev = m.event;
    if (!ev) continue;
    for (const u of [ev.by, ev.user, ...(Array.isArray(ev.members) ? ev.members : [])]) if (typeof u === "number") ids.add(u);
  }
  return [...ids];
}
