// The single-page app's routes (pushState, no library). httpapi/webapp.py serves index.html for each, and
// the service worker (src/sw.ts) answers a navigation to one of them with the cached app when offline.
export type Route =
  | { name: "home" }
  | { name: "room"; room: number }
  | { name: "invite"; code: string }
  | { name: "qr"; code: string }
  | { name: "settings" }
  | { name: "group"; room: number };

export function parseRoute(path: string): Route {
  let m: RegExpMatchArray | null;
  if ((m = path.match(/^\/r\/(\d+)\/settings\/?$/))) return { name: "group", room: Number(m[1]) };
  if ((m = path.match(/^\/r\/(\d+)\/?$/))) return { name: "room", room: Number(m[1]) };
  if ((m = path.match(/^\/i\/([A-Za-z0-9_-]+)\/?$/))) return { name: "invite", code: m[1]! };
  if ((m = path.match(/^\/qr\/([A-Za-z0-9]+)\/?$/))) return { name: "qr", code: m[1]! }; // a scanned QR login
  if (/^\/settings\/?$/.test(path)) return { name: "settings" };
  return { name: "home" };
}

/** Is `path` one of the app's pages (not a file, not /api/)? */
export const isAppPage = (path: string): boolean => path === "/" || parseRoute(path).name !== "home";
