import { useEffect, useMemo, useState } from "react";
import { Dialog } from "./Dialog";
import { navigate, useChat, useStore } from "./hooks";
import { sendFile } from "../attach";
import { dropSharedFiles, openedByShare, sharedFiles } from "../share";
import { roomsByRecent } from "../store/logic";

/** Opened by another app's share sheet: show the pictures and send them to the chat the person picks. */
export function SharePicker() {
  const store = useStore();
  const [byShare] = useState(() => openedByShare(location.search)); // before the shell changes the URL
  const [files, setFiles] = useState<File[]>([]);
  useEffect(() => {
    if (byShare) void sharedFiles().then(setFiles, () => undefined);
  }, [byShare]);
  const previews = useMemo(() => files.map((f) => URL.createObjectURL(f)), [files]);
  useEffect(() => () => previews.forEach((u) => URL.revokeObjectURL(u)), [previews]);
  const rooms = useChat((s) => s.rooms);
  useChat((s) => s.profiles); // names
  const sorted = useMemo(() => roomsByRecent(rooms), [rooms]);
  if (!files.length) return null;

  const close = () => {
    setFiles([]);
    void dropSharedFiles();
  };
  const sendTo = (room: number) => {
    for (const f of files) void sendFile(store, room, f, "").catch(() => undefined); // a failure shows as the upload's error
    close();
    navigate(`/r/${room}`);
  };
  const what = files.length === 1 ? "the picture" : `${files.length} pictures`;
  return (
    <Dialog title={`Send ${what} to…`} onClose={close}>
      <div className="shared-previews">
        {previews.map((u, i) => <img key={u} src={u} alt={files[i]!.name} />)}
      </div>
      {sorted.length ? (
        <ul className="share-rooms" aria-label="Chats to send to">
          {sorted.map((r) => (
            <li key={r.room}><button type="button" onClick={() => sendTo(r.room)}>{store.roomTitle(r)}</button></li>
          ))}
        </ul>
      ) : <p className="empty small">No chats yet: start one, then share again.</p>}
    </Dialog>
  );
}
