// Names the service worker (src/sw.ts) and the page share.
//
// Its Cache Storage names start with SHELL_CACHE_PREFIX (workbox's cache-name prefix). That cache holds the
// app shell only (the built HTML, JS, CSS and icons, the same for everyone), so signing out keeps it: the
// app must still start offline for the next person to sign in.
export const SHELL_CACHE_PREFIX = "chatd-shell";

// The share target (manifest share_target): the phone's share sheet POSTs pictures to SHARE_ACTION as
// multipart form field SHARE_FIELD; the worker keeps them in SHARE_CACHE (not the shell's: a sign-out wipes
// it) and opens SHARED_PAGE, where the app asks which chat to send them to and empties the cache.
export const SHARE_ACTION = "/share";
export const SHARE_FIELD = "image";
export const SHARE_CACHE = "chatd-shared";
export const SHARED_PAGE = "/?shared";
export const MAX_SHARED_FILES = 10;
