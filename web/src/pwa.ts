// The installable app: register the service worker (src/sw.ts, built into /sw.js) at start, so the app
// shell is there offline and push (src/push.ts) finds the same registration.
const UPDATE_CHECK_MS = 60 * 60 * 1000;

export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || typeof navigator === "undefined" || !("serviceWorker" in navigator)) return;
  // a refused registration (private window, an insecure origin) leaves the app working online
  void navigator.serviceWorker.register("/sw.js", { scope: "/" }).then((reg) => {
    // an installed app may stay open for days: look for a new deploy when it comes back to the front
    let checked = Date.now();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible" || Date.now() - checked < UPDATE_CHECK_MS) return;
      checked = Date.now();
      void reg.update().catch(() => undefined);
    });
  }, () => undefined);
}
