// Web Push in the service worker: show a notification for each push (payload: docs/protocol.md section
// 9.3) and open the room when one is clicked.

interface PushPayload {
  type?: string;
  room?: number;
  seq?: number;
  room_name?: string | null;
  sender_name?: string;
  preview?: string | null;
  count?: number;
}

export function handlePush(sw: ServiceWorkerGlobalScope): void {
  sw.addEventListener("push", (event) => {
    let m: PushPayload;
    try {
      m = event.data?.json() as PushPayload;
    } catch {
      return;
    }
    if (m?.type !== "message") return;
    const body = m.preview ?? (m.count === 1 ? "New message" : `${m.count} new messages`);
    event.waitUntil(sw.registration.showNotification(m.room_name ?? m.sender_name ?? "chatd", {
      body: m.room_name && m.preview ? `${m.sender_name}: ${body}` : body,
      tag: `room-${m.room}`,
      icon: "/pwa-192x192.png",
      data: { room: m.room, seq: m.seq },
    }));
  });

  sw.addEventListener("notificationclick", (event) => {
    event.notification.close();
    const url = `/r/${(event.notification.data as { room?: number } | null)?.room ?? ""}`;
    event.waitUntil((async () => {
      const wins = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const w of wins) {
        await w.navigate(url).catch(() => undefined);
        return w.focus();
      }
      return sw.clients.openWindow(url);
    })());
  });
}
