import { useEffect, useState } from "react";
import { MessageSquarePlus, Settings, Users } from "lucide-react";
import { navigate, useChat, useStore, type Route } from "./hooks";
import { RoomList } from "./RoomList";
import { ChatView } from "./ChatView";
import { NewChatDialog } from "./NewChat";
import { GroupSettings } from "./GroupSettings";
import { ProfileSettings } from "./ProfileSettings";
import { InvitePage } from "./InvitePage";
import { SharePicker } from "./SharePicker";
import { QrApprove } from "./QrLogin";
import { titleFor, unreadTotal } from "../store/title";
import { connLabel } from "./format";
import { CryptoBanners, VerificationDialogs } from "./Encryption";

const LAST_ROOM = "chatd.lastRoom";

export function Shell({ route, onLogout }: { route: Route; onLogout: (deleted?: boolean) => void }) {
  const store = useStore();
  const [dialog, setDialog] = useState<"direct" | "group" | null>(null);
  const conn = useChat((s) => s.conn);
  const network = useChat((s) => s.network);
  const connText = connLabel(conn, network);

  // Reload shows the last conversation at once (from the cache).
  useEffect(() => {
    if (route.name === "home") {
      const last = Number(localStorage.getItem(LAST_ROOM));
      if (last && store.state.rooms[last] && window.matchMedia("(min-width: 700px)").matches) navigate(`/r/${last}`, true);
    }
  }, [route.name, store]);

  const room = route.name === "room" || route.name === "group" ? route.room : null;
  useEffect(() => {
    if (room === null) {
      store.closeRoom();
      return;
    }
    localStorage.setItem(LAST_ROOM, String(room));
    void store.openRoom(room);
  }, [room, store]);

  useEffect(() => {
    const onVisible = () => store.state.activeRoom !== null && store.markRead(store.state.activeRoom);
    document.addEventListener("visibilitychange", onVisible);
    window.addEventListener("focus", onVisible);
    return () => {
      document.removeEventListener("visibilitychange", onVisible);
      window.removeEventListener("focus", onVisible);
    };
  }, [store]);

  // The tab title counts unread messages (muted rooms aside); signed out, it is plain again.
  const unread = useChat((s) => unreadTotal(s.rooms));
  useEffect(() => {
    document.title = titleFor(unread);
  }, [unread]);
  useEffect(() => () => void (document.title = titleFor(0)), []);

  const showMain = route.name !== "home";
  return (
    <div className={`shell ${showMain ? "show-main" : "show-list"}`}>
      <aside className="sidebar" aria-label="Chats">
        <header className="bar">
          <h1 className="brand">chatd</h1>
          <span className={`conn ${connText ? (network === "offline" ? "offline" : "connecting") : "online"}`} role="status" aria-live="polite"
            data-testid="conn">{connText ?? "online"}</span>
          <button type="button" className="icon" aria-label="New direct chat" title="New direct chat" onClick={() => setDialog("direct")}><MessageSquarePlus size={20} aria-hidden="true" /></button>
          <button type="button" className="icon" aria-label="New group" title="New group" onClick={() => setDialog("group")}><Users size={20} aria-hidden="true" /></button>
          <button type="button" className="icon" aria-label="Profile and settings" title="Profile and settings" onClick={() => navigate("/settings")}><Settings size={20} aria-hidden="true" /></button>
        </header>
        <RoomList active={room} />
      </aside>
      <main className="main">
        {conn === "offline" && <p className="offline-note" role="status">Offline: showing what this device saved.</p>}
        <CryptoBanners />
        {route.name === "room" && <ChatView key={route.room} room={route.room} />}
        {route.name === "group" && <GroupSettings key={route.room} room={route.room} />}
        {route.name === "settings" && <ProfileSettings onLogout={onLogout} />}
        {route.name === "invite" && <InvitePage code={route.code} />}
        {route.name === "qr" && <div className="card qr-page"><QrApprove key={route.code} initial={route.code} /></div>}
        {route.name === "home" && <div className="empty">Pick a chat, or start a new one.</div>}
      </main>
      {dialog && <NewChatDialog mode={dialog} onClose={() => setDialog(null)} />}
      <SharePicker />
      <VerificationDialogs />
    </div>
  );
}
