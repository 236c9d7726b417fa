// The service worker's Cache Storage names start with this (workbox's cache-name prefix). It holds the app
// shell only (the built HTML, JS, CSS and icons, the same for everyone), so signing out keeps it: the app
// must still start offline for the next person to sign in. Imported by the service worker and the page.
export const SHELL_CACHE_PREFIX = "chatd-shell";
