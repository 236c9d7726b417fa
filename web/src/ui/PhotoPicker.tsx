import { useRef, useState } from "react";
import { upload } from "../http";
import { session } from "../session";

/**
 * "Add a photo" / "Change photo" / "Remove photo" for a profile picture or a group icon: the picture is
 * uploaded (POST /api/media), then `apply` names its media id (update_profile avatar, update_room icon;
 * the server checks it is an image this user uploaded). `apply("")` removes it. Resolves with a message.
 */
export function PhotoPicker({ id, has, apply, onResult }: {
  id: string; has: boolean; apply: (mediaId: string) => Promise<unknown>; onResult: (text: string, error?: boolean) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);

  async function pick(file: File | undefined) {
    if (input.current) input.current.value = "";
    const token = await session.access().catch(() => null);
    if (!file || !token) return;
    setBusy(true);
    try {
      const up = await upload(file, file.name, token, () => undefined).promise;
      await apply(up.id);
      onResult("Photo updated.");
    } catch (err) {
      onResult(`Photo not changed: ${(err as Error).message}`, true);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    try {
      await apply("");
      onResult("Photo removed.");
    } catch (err) {
      onResult((err as Error).message, true);
    }
  }

  return (
    <span className="row wrap">
      <input ref={input} type="file" accept="image/jpeg,image/png,image/gif,image/webp" id={id} className="visually-hidden"
        onChange={(e) => void pick(e.target.files?.[0])} />
      <button type="button" disabled={busy} onClick={() => input.current?.click()}>
        {busy ? "Uploading…" : has ? "Change photo" : "Add a photo"}
      </button>
      {has && <button type="button" className="link" onClick={() => void remove()}>Remove photo</button>}
    </span>
  );
}
