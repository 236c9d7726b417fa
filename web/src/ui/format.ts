export function timeOfDay(ts: number): string {
  return new Date(ts).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function dayLabel(ts: number, now = Date.now()): string {
  const d = new Date(ts);
  const today = new Date(now);
  const yesterday = new Date(now - 86_400_000);
  const same = (a: Date, b: Date) => a.toDateString() === b.toDateString();
  if (same(d, today)) return "Today";
  if (same(d, yesterday)) return "Yesterday";
  return d.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long", year: d.getFullYear() === today.getFullYear() ? undefined : "numeric" });
}

export function shortTime(ts: number, now = Date.now()): string {
  return new Date(ts).toDateString() === new Date(now).toDateString()
    ? timeOfDay(ts)
    : new Date(ts).toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

export function lastSeen(ts: number | undefined, now = Date.now()): string {
  if (!ts) return "offline";
  const min = Math.round((now - ts) / 60_000);
  if (min < 1) return "last seen just now";
  if (min < 60) return `last seen ${min} min ago`;
  if (min < 24 * 60) return `last seen at ${timeOfDay(ts)}`;
  return `last seen ${new Date(ts).toLocaleDateString()}`;
}

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}

export const badge = (n: number) => (n >= 1000 ? "999+" : String(n));

/** What the headers say while not connected: the browser's word first ("Offline"), else "Connecting…";
 * null when online. */
export function connLabel(conn: "offline" | "connecting" | "online", network: "online" | "offline"): string | null {
  if (network === "offline") return "Offline";
  return conn === "online" ? null : "Connecting…";
}
