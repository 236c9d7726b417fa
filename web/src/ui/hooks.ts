import { createContext, useContext, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import type { ChatStore, State } from "../store/chat";
import { ShownLink, type MediaLinks } from "../mediaLinks";
import { parseRoute, type Route } from "../routes";

export const StoreContext = createContext<ChatStore | null>(null);
export const MediaLinksContext = createContext<MediaLinks | null>(null);

/** The signed URL an element shows for a media item (undefined until it arrives): kept until it fails to
 * load; `onError` then takes a fresh one, once (a second failure is the item itself, e.g. deleted);
 * `onLoad` allows a retry again. */
export function useMediaUrl(id: string): { url: string | undefined; onError: () => void; onLoad: () => void } {
  const links = useMediaLinks();
  const shown = useMemo(() => new ShownLink(links, id), [links, id]);
  useEffect(() => links.use(id), [links, id]);
  const url = useSyncExternalStore(links.subscribe, shown.url);
  return { url, onError: shown.failed, onLoad: shown.loaded };
}

export function useMediaLinks(): MediaLinks {
  const links = useContext(MediaLinksContext);
  if (!links) throw new Error("no MediaLinks");
  return links;
}

export function useStore(): ChatStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error("no ChatStore");
  return store;
}

/** Subscribe to a slice of the state (the selector must return stable references). */
export function useChat<T>(select: (s: State) => T): T {
  const store = useStore();
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}

// ------------------------------------------------------------------ routing (pushState, no library)
export { parseRoute, type Route } from "../routes";

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return parseRoute(path);
}

/** Re-render every `ms` (relative times such as "last seen 5 min ago"). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
