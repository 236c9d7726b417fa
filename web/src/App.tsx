import { useEffect, useState } from "react";
import { ChatStore } from "./store/chat";
import { cacheName, loadWho, onOtherTabSignedOut, session, signOut, SIGN_OUT_MESSAGE, type SignOutReason, type Who } from "./session";
import { ChatError } from "./protocol/client";
import * as http from "./http";
import { MediaLinks } from "./mediaLinks";
import { renewPush } from "./push";
import { chime } from "./sound";
import { MediaLinksContext, StoreContext, useRoute } from "./ui/hooks";
import { AuthScreen } from "./ui/AuthScreen";
import { Shell } from "./ui/Shell";

async function signLinks(ids: string[]) {
  const token = await session.access();
  if (!token) throw new ChatError("unauthorized", "signed out"); // media links stop asking
  return http.mediaLinks(ids, token);
}

export function App() {
  const [who, setWho] = useState<Who | null>(loadWho);
  const [endedBy, setEndedBy] = useState<SignOutReason | null>(null);
  const [store, setStore] = useState<ChatStore | null>(null);
  const [links, setLinks] = useState<MediaLinks | null>(null);
  const route = useRoute();

  /** Every sign-out comes here: stop, show the login screen (and why) at once, then tell and wipe. */
  function leave(reason: SignOutReason, userId: number, stop: () => void) {
    stop(); // close the cache so it can be deleted, and make no more requests
    setWho(null);
    setEndedBy(reason);
    void signOut(reason, [cacheName(userId)]);
  }

  useEffect(() => {
    if (!who) return;
    let live = true;
    let opened: ChatStore | null = null;
    const media = new MediaLinks(signLinks);
    void ChatStore.open({ userId: who.userId, username: who.username }, {
      url: http.wsUrl,
      tokens: session,
      onSignedOut: (reason) => leave(reason, who.userId, () => media.dispose()), // the client stopped itself
    }).then((s) => {
      if (!live) return s.stop();
      opened = s;
      s.onChime = () => chime();
      s.start();
      setLinks(media); // with the store: the shell renders once both are there
      setStore(s);
      void session.access().then(renewPush, () => undefined);
    });
    return () => {
      live = false;
      opened?.stop();
      media.dispose();
      setStore(null);
      setLinks(null);
    };
  }, [who?.userId]); // eslint-disable-line react-hooks/exhaustive-deps

  // another tab signed out (and wipes): stop here too (the effect above) so its deletes are not blocked
  useEffect(() => onOtherTabSignedOut((reason) => {
    setWho(null);
    setEndedBy(reason);
  }), []);

  if (!who) {
    return <AuthScreen onAuthed={(w) => { setEndedBy(null); setWho(w); }} notice={endedBy ? SIGN_OUT_MESSAGE[endedBy] : null}
      inviteCode={route.name === "invite" ? route.code : undefined} />;
  }
  if (!store || !links) return <div className="loading" role="status">Loading…</div>;
  return (
    <StoreContext.Provider value={store}>
      <MediaLinksContext.Provider value={links}>
        <Shell route={route} onLogout={(deleted) => leave(deleted ? "deleted" : "logout", who.userId, () => {
          store.stop();
          links.dispose();
        })} />
      </MediaLinksContext.Provider>
    </StoreContext.Provider>
  );
}
