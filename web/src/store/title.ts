// The browser tab's title: how many messages wait unread, so a background tab shows it.
import type { RoomSummary } from "../protocol/types";

type Counted = Pick<RoomSummary, "unread" | "muted"> & { member?: boolean };

/** Unread messages across the rooms one belongs to (`member: false` after leaving is out); muted rooms do not
 * count (they do not notify either). */
export function unreadTotal(rooms: Record<number, Counted> | readonly Counted[]): number {
  let total = 0;
  for (const r of Object.values(rooms)) {
    if (r.member !== false && !r.muted) total += Math.max(0, r.unread);
  }
  return total;
}

/** "(3) chatd" with unread messages, "chatd" without; large counts read "(99+) chatd". */
export function titleFor(total: number): string {
  if (total <= 0) return "chatd";
  return `(${total > 99 ? "99+" : total}) chatd`;
}
