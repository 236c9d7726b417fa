// chatd's service worker, built into /sw.js by vite-plugin-pwa (injectManifest; workbox is bundled in, no
// CDN). It does two things:
// - the app shell offline: the build's files (HTML, JS, CSS, icons, manifest) are precached; a navigation
//   to one of the app's pages goes to the network first and falls back to the cached shell when the network
//   fails or is slow, so a reload offline starts the app, which shows the conversations from IndexedDB.
//   Nothing else is touched: API calls, the websocket, media behind signed links and anything sent with a
//   token go to the network as if there were no service worker, and are never cached.
// - Web Push notifications (./sw/push.ts), and pictures shared from other apps (./sw/share.ts).
// A new deploy is a new sw.js (the precache list names each file's revision): it takes over once the app's
// tabs are closed and drops the old files; since navigations ask the network first, a start online gets
// the new shell even before that.
import { clientsClaim, setCacheNameDetails } from "workbox-core";
import { cleanupOutdatedCaches, matchPrecache, precacheAndRoute } from "workbox-precaching";
import { registerRoute } from "workbox-routing";
import { NetworkOnly } from "workbox-strategies";
import { isAppPage } from "./routes";
import { SHELL_CACHE_PREFIX } from "./swNames";
import { handlePush } from "./sw/push";
import { handleShareTarget } from "./sw/share";

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

const SHELL = "/"; // index.html is served (and precached) as "/": the server answers 404 for /index.html
const NETWORK_TIMEOUT_SECONDS = 4;

setCacheNameDetails({ prefix: SHELL_CACHE_PREFIX });
// The first worker takes the open page at once. A newer one waits until every tab of the app is closed
// (no skipWaiting): an open page keeps the files it was built with (a lazy chunk such as the emoji picker's
// would be gone otherwise), while navigations, network first, already get the new build.
clientsClaim();

// First, so it wins over the precache's own route for "/": the network, else the cached shell.
const appPage = new NetworkOnly({
  networkTimeoutSeconds: NETWORK_TIMEOUT_SECONDS,
  plugins: [{
    // a proxy in front of a stopped chatd answers 502/503/504: the cached app is better than its error page
    fetchDidSucceed: async ({ response }) => {
      if (response.status >= 502 && response.status <= 504) throw new Error(`HTTP ${response.status}`);
      return response;
    },
    handlerDidError: async () => (await matchPrecache(SHELL)) ?? Response.error(),
  }],
});
registerRoute(({ request, url, sameOrigin }) => request.mode === "navigate" && sameOrigin && isAppPage(url.pathname), appPage);

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
handlePush(self);
handleShareTarget(self);
