// Web Push opt-in: register the service worker, subscribe with the server's VAPID key, tell the server.
import * as http from "./http";

function keyBytes(b64url: string): Uint8Array {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64url.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export const pushSupported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

export async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration("/");
  return (await reg?.pushManager.getSubscription()) ?? null;
}

export async function enablePush(token: string): Promise<void> {
  if (!pushSupported()) throw new Error("This browser does not support push notifications.");
  if ((await Notification.requestPermission()) !== "granted") throw new Error("Notifications were not allowed.");
  const reg = await navigator.serviceWorker.register("/sw.js");
  await navigator.serviceWorker.ready;
  const key = await http.vapidKey();
  const sub = (await reg.pushManager.getSubscription()) ??
    (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) as BufferSource }));
  await http.subscribePush(token, sub);
}

export async function disablePush(token: string): Promise<void> {
  const sub = await currentSubscription();
  if (!sub) return;
  await http.unsubscribePush(token, sub.endpoint);
  await sub.unsubscribe();
}

/** At every start: tell the server again about this browser's subscription, if it has one (harmless when
 * it already knows it, docs/protocol.md 9.2). It ties the subscription to this signed-in device, so
 * signing the device out drops it. Errors are ignored: push is a nicety. */
export async function renewPush(token: string | null): Promise<void> {
  if (!token || !pushSupported() || Notification.permission !== "granted") return;
  const sub = await currentSubscription().catch(() => null);
  if (sub) await http.subscribePush(token, sub).catch(() => undefined);
}
