// chatd service worker: shows Web Push notifications (payload: docs/protocol.md section 9.3) and opens
// the room when one is clicked.
self.addEventListener("push", (event) => {
  let m;
  try {
    m = event.data.json();
  } catch {
    return;
  }
  if (m.type !== "message") return;
  const body = m.preview ?? (m.count === 1 ? "New message" : `${m.count} new messages`);
  event.waitUntil(self.registration.showNotification(m.room_name ?? m.sender_name, {
    body: m.room_name && m.preview ? `${m.sender_name}: ${body}` : body,
    tag: `room-${m.room}`,
    data: { room: m.room, seq: m.seq },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = `/r/${event.notification.data?.room ?? ""}`;
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const w of wins) {
      if ("focus" in w) {
        await w.navigate(url).catch(() => undefined);
        return w.focus();
      }
    }
    return self.clients.openWindow(url);
  })());
});
