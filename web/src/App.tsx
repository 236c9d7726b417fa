import { useEffect, useState } from "react";
import { ChatStore } from "./store/chat";
import { clearAuth, loadAuth, SessionTokens, type StoredAuth } from "./session";
import * as http from "./http";
import { StoreContext, useRoute } from "./ui/hooks";
import { AuthScreen } from "./ui/AuthScreen";
import { Shell } from "./ui/Shell";

export function App() {
  const [auth, setAuth] = useState<StoredAuth | null>(loadAuth);
  const [store, setStore] = useState<ChatStore | null>(null);
  const route = useRoute();

  useEffect(() => {
    if (!auth) return;
    let live = true;
    let opened: ChatStore | null = null;
    const tokens = new SessionTokens();
    void ChatStore.open({ userId: auth.userId, username: auth.username }, {
      url: http.wsUrl,
      tokens,
      onSignedOut: () => setAuth(null),
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
    };
  }, [auth?.userId]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!auth) return <AuthScreen onAuthed={setAuth} inviteCode={route.name === "invite" ? route.code : undefined} />;
  if (!store) return <div className="loading" role="status">Loading…</div>;
  return (
    <StoreContext.Provider value={store}>
      <Shell route={route} onLogout={async () => {
        const a = loadAuth();
        clearAuth();
        setAuth(null);
        if (a) await http.logout(a.refresh).catch(() => undefined);
      }} />
    </StoreContext.Provider>
  );
}
