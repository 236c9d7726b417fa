import { useEffect, useState } from "react";
import { ChatStore } from "./store/chat";
import { cacheName, loadWho, logout, session, type Who } from "./session";
import * as http from "./http";
import { MediaLinks } from "./mediaLinks";
import { MediaLinksContext, StoreContext, useRoute } from "./ui/hooks";
import { AuthScreen } from "./ui/AuthScreen";
import { Shell } from "./ui/Shell";

const CHANNEL = "chatd"; // tells the other tabs of this browser that we logged out

async function signLinks(ids: string[]) {
  const token = await session.access();
  if (!token) throw new Error("signed out");
  return http.mediaLinks(ids, token);
}

export function App() {
  const [who, setWho] = useState<Who | null>(loadWho);
  const [store, setStore] = useState<ChatStore | null>(null);
  const [links, setLinks] = useState<MediaLinks | null>(null);
  const route = useRoute();

  useEffect(() => {
    if (!who) return;
    let live = true;
    let opened: ChatStore | null = null;
    setLinks(new MediaLinks(signLinks));
    void ChatStore.open({ userId: who.userId, username: who.username }, {
      url: http.wsUrl,
      tokens: session,
      onSignedOut: () => setWho(null),
    }).then((s) => {
      if (!live) return s.stop();
      opened = s;
      s.start();
      setStore(s);
    });
    return () => {
      live = false;
      opened?.stop();
      setStore(null);
      setLinks(null);
    };
  }, [who?.userId]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (typeof BroadcastChannel === "undefined") return;
    const channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = (e) => {
      if (e.data === "logout") setWho(null); // the store closes its cache, which the other tab is deleting
    };
    return () => channel.close();
  }, []);

  if (!who) return <AuthScreen onAuthed={setWho} inviteCode={route.name === "invite" ? route.code : undefined} />;
  if (!store || !links) return <div className="loading" role="status">Loading…</div>;
  return (
    <StoreContext.Provider value={store}>
      <MediaLinksContext.Provider value={links}>
        <Shell route={route} onLogout={async () => {
          store.stop(); // close the cache so it can be deleted
          await logout([cacheName(who.userId)]);
          if (typeof BroadcastChannel !== "undefined") {
            const channel = new BroadcastChannel(CHANNEL);
            channel.postMessage("logout");
            channel.close();
          }
          setWho(null);
        }} />
      </MediaLinksContext.Provider>
    </StoreContext.Provider>
  );
}
