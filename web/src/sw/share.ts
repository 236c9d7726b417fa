// The share target (manifest share_target, src/swNames.ts): the phone's share sheet POSTs pictures here;
// keep them for the page and open it, which asks which chat to send them to (src/ui/SharePicker.tsx).
import { registerRoute } from "workbox-routing";
import { MAX_SHARED_FILES, SHARE_ACTION, SHARE_CACHE, SHARE_FIELD, SHARED_PAGE } from "../swNames";

export function handleShareTarget(sw: ServiceWorkerGlobalScope): void {
  registerRoute(({ url, sameOrigin }) => sameOrigin && url.pathname === SHARE_ACTION, async ({ request }) => {
    const form = await request.formData().catch(() => null);
    const files = (form?.getAll(SHARE_FIELD) ?? [])
      .filter((f): f is File => f instanceof File && f.type.startsWith("image/"))
      .slice(0, MAX_SHARED_FILES);
    await caches.delete(SHARE_CACHE); // an earlier share nobody sent
    const cache = await caches.open(SHARE_CACHE);
    await Promise.all(files.map((f, i) => cache.put(`/shared/${i}`, new Response(f, {
      headers: { "Content-Type": f.type, "X-File-Name": encodeURIComponent(f.name || `shared-${i}`) },
    }))));
    return Response.redirect(new URL(SHARED_PAGE, sw.location.origin).href, 303);
  }, "POST");
}
