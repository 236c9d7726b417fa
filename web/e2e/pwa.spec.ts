// The installable app (issue 17): Chromium's own install criteria (manifest, icons, a service worker in
// control), the app shell offline with the cached conversations, touch-sized actions at phone width and
// pictures shared from another app (the manifest's share_target), and Web Push in the same worker.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type Page } from "@playwright/test";
import { test, expect, msg, openDirect, png, send, shot, T } from "./fixtures";

/** Wait until the service worker is installed, activated and in control of `page`. */
async function controlled(page: Page): Promise<void> {
  await page.waitForFunction(() => navigator.serviceWorker?.controller?.state === "activated", null, { timeout: T });
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes: Buffer): [number, number] {
  expect(bytes.subarray(1, 4).toString("latin1")).toBe("PNG");
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

interface Manifest {
  name: string; short_name: string; start_url: string; scope: string; display: string; id: string;
  theme_color: string; background_color: string;
  icons: { src: string; sizes: string; type: string; purpose?: string }[];
  share_target?: { action: string; method: string; enctype: string; params: { files: { name: string; accept: string[] }[] } };
}

test("Chromium finds the app installable: a valid manifest, its icons and a service worker in control", async ({ baseURL }) => {
  // Installability is not judged in an incognito profile, which every browser.newContext() is: use a real one.
  const profile = await mkdtemp(path.join(os.tmpdir(), "chatd-pwa-"));
  const { launchOptions } = test.info().project.use;
  const context = await chromium.launchPersistentContext(profile, { ...launchOptions, baseURL, viewport: { width: 390, height: 760 } });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto("/");
    await controlled(page);

    const cdp = await context.newCDPSession(page);
    const app = await cdp.send("Page.getAppManifest");
    expect(app.url).toMatch(/\/manifest\.webmanifest$/);
    expect(app.errors, "the manifest parses without errors").toEqual([]);
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    expect(installabilityErrors, "nothing keeps Chromium from offering to install").toEqual([]);

    const res = await page.request.get("/manifest.webmanifest");
    expect(res.headers()["content-type"]).toBe("application/manifest+json");
    const m = (await res.json()) as Manifest;
    expect(m).toMatchObject({ name: "chatd", short_name: "chatd", start_url: "/", scope: "/", display: "standalone" });
    expect(m.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
    expect(m.background_color).toMatch(/^#[0-9a-f]{6}$/i);
    const icons = m.icons.map((i) => `${i.sizes} ${i.purpose ?? "any"}`).sort();
    expect(icons).toEqual(["192x192 any", "512x512 any", "512x512 maskable"]);
    for (const icon of m.icons) {
      const got = await page.request.get(icon.src);
      expect(got.status(), icon.src).toBe(200);
      expect(got.headers()["content-type"], icon.src).toBe("image/png");
      expect(pngSize(await got.body()).join("x"), `${icon.src} is as big as it says`).toBe(icon.sizes);
    }

    const worker = await page.request.get("/sw.js");
    expect(worker.headers()["content-type"]).toMatch(/javascript/);
    expect(worker.headers()["content-security-policy"], "the worker runs under the page's CSP").toContain("default-src 'self'");
    expect(await worker.text(), "workbox is bundled in, nothing loaded from elsewhere").not.toMatch(/importScripts\(/);
    await shot(page, "pwa-01-installable");
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
});

test("offline, a reload starts the app from the cache and shows the conversation; back online it catches up", async ({ users }) => {
  const ann = await users.signUp("ann", { phone: true });
  const bob = await users.signUp("bob");
  const room = await openDirect(bob.page, ann.name);
  await send(bob.page, "see you on the train");
  await ann.page.goto(`/r/${room}`);
  await send(ann.page, "I will read this offline");
  await msg(ann.page, "see you on the train").waitFor({ timeout: T });
  await controlled(ann.page);

  await ann.context.setOffline(true);
  await ann.page.reload();
  await expect(ann.page.locator(".offline-note"), "the chat says it is offline").toBeVisible({ timeout: T });
  await expect(ann.page.locator(".conn")).toHaveText(/offline/i);
  await expect(msg(ann.page, "see you on the train")).toBeVisible();
  await expect(msg(ann.page, "I will read this offline")).toBeVisible();
  await ann.page.waitForTimeout(1500); // a few retries later
  await expect(ann.page.locator(".offline-note"), "it stays offline while it retries").toBeVisible();
  // what is written offline waits in the outbox
  await ann.page.getByLabel("Message", { exact: true }).fill("written on the train");
  await ann.page.getByLabel("Message", { exact: true }).press("Enter");
  await expect(msg(ann.page, "written on the train")).toBeVisible();
  await shot(ann.page, "pwa-02-offline-phone");

  // the main actions are touch-sized at phone width
  for (const name of ["Back to chats"]) {
    const box = await ann.page.getByRole("button", { name }).boundingBox();
    expect(box && Math.min(box.width, box.height), `${name} is at least 44 px`).toBeGreaterThanOrEqual(44);
  }
  await ann.page.getByRole("button", { name: "Back to chats" }).click();
  await expect(ann.page.locator(`.room-row[data-room="${room}"]`), "the room list, from the cache").toBeVisible();
  for (const name of ["New direct chat", "New group", "Profile and settings"]) {
    const box = await ann.page.getByRole("button", { name }).boundingBox();
    expect(box && Math.min(box.width, box.height), `${name} is at least 44 px`).toBeGreaterThanOrEqual(44);
  }
  const row = await ann.page.locator(`.room-row[data-room="${room}"]`).boundingBox();
  expect(row?.height, "a chat in the list is at least 44 px high").toBeGreaterThanOrEqual(44);
  await shot(ann.page, "pwa-03-offline-list-phone");

  await send(bob.page, "sent while you were offline");
  await ann.context.setOffline(false); // the browser's online event: it reconnects at once
  await expect(ann.page.locator(".conn.online")).toBeVisible({ timeout: T });
  await expect(ann.page.locator(".offline-note")).toHaveCount(0);
  await ann.page.locator(`.room-row[data-room="${room}"]`).click();
  await expect(msg(ann.page, "sent while you were offline")).toBeVisible({ timeout: T });
  await expect(msg(bob.page, "written on the train"), "the outbox went out once online").toBeVisible({ timeout: T });
});

test("the service worker keeps the app shell and nothing else; sign-out keeps the shell", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  await openDirect(ann.page, bob.name);
  await send(ann.page, "nothing of this is cached by the worker");
  await controlled(ann.page);
  // network first: online, a reload gets the server's page (a new deploy at once), not the cached shell
  const shellDate = await ann.page.evaluate(async () => {
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const r of await cache.keys()) if (new URL(r.url).pathname === "/") return (await cache.match(r))!.headers.get("date");
    }
    return null;
  });
  expect(shellDate, "the shell is precached").toBeTruthy();
  await ann.page.waitForTimeout(1100); // HTTP dates have whole seconds
  const page = await ann.page.reload();
  expect(page?.fromServiceWorker(), "the worker answered the navigation").toBe(true);
  expect(Date.parse(page!.headers().date!), "with a fresh answer from the server").toBeGreaterThan(Date.parse(shellDate!));
  await msg(ann.page, "nothing of this is cached by the worker").waitFor({ timeout: T });
  const cached = await ann.page.evaluate(async () => {
    const out: string[] = [];
    for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) out.push(`${name} ${new URL(r.url).pathname}`);
    return out;
  });
  expect(cached.length).toBeGreaterThan(0);
  for (const entry of cached) {
    expect(entry, "only the shell's cache").toMatch(/^chatd-shell-precache/);
    expect(entry, "only built files").toMatch(/ \/($|assets\/|[\w-]+\.(png|svg|webmanifest)$)/);
  }

  await ann.page.getByRole("button", { name: "Profile and settings" }).click();
  await ann.page.getByRole("button", { name: "Log out", exact: true }).click();
  await ann.page.getByRole("button", { name: "Log in" }).waitFor({ timeout: T });
  await ann.context.setOffline(true);
  await ann.page.reload();
  await expect(ann.page.getByRole("button", { name: "Log in" }), "signed out and offline, the app still starts").toBeVisible();
});

test("a picture shared from another app goes to the chat the person picks", async ({ users }) => {
  const ann = await users.signUp("ann", { phone: true });
  const bob = await users.signUp("bob");
  const room = await openDirect(bob.page, ann.name);
  await send(bob.page, "send me the photo");
  await ann.page.locator(`.room-row[data-room="${room}"]`).waitFor({ timeout: T });
  await controlled(ann.page);
  const m = (await (await ann.page.request.get("/manifest.webmanifest")).json()) as Manifest;
  const target = m.share_target!;

  // What the share sheet does: a POST navigation to the share target with the picture as a multipart field.
  await ann.page.evaluate(({ action, enctype, field }) => {
    const form = Object.assign(document.createElement("form"), { method: "post", action, enctype });
    const input = Object.assign(document.createElement("input"), { type: "file", name: field, id: "shared-file" });
    form.append(input);
    document.body.append(form);
  }, { action: target.action, enctype: target.enctype, field: target.params.files[0]!.name });
  await ann.page.locator("#shared-file").setInputFiles({ name: "train.png", mimeType: "image/png", buffer: png(80, 60) });
  await ann.page.evaluate(() => document.querySelector("form")!.submit());

  const picker = ann.page.getByRole("dialog", { name: "Send the picture to…" });
  await expect(picker).toBeVisible({ timeout: T });
  await expect(picker.getByRole("img", { name: "train.png" })).toBeVisible();
  await shot(ann.page, "pwa-04-share-picker-phone");
  await picker.getByRole("list", { name: "Chats to send to" }).getByRole("button", { name: bob.name }).click();
  await ann.page.waitForURL(`**/r/${room}`, { timeout: T });
  await expect(ann.page.locator(".msg.mine[data-seq] img")).toBeVisible({ timeout: T });
  await expect(bob.page.locator(".msg:not(.mine)[data-seq] img")).toBeVisible({ timeout: T });
  expect(await ann.page.evaluate(() => caches.has("chatd-shared")), "the shared picture is not kept").toBe(false);
});

test("Web Push still works in the one worker: a push shows the notification for its room", async ({ users, baseURL }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const room = await openDirect(bob.page, ann.name);
  await ann.context.grantPermissions(["notifications"], { origin: baseURL });
  await controlled(ann.page);
  const cdp = await ann.context.newCDPSession(ann.page);
  const registration = new Promise<string>((resolve) => cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
    const r = registrations.find((x) => x.scopeURL === `${baseURL}/` && !x.isDeleted);
    if (r) resolve(r.registrationId);
  }));
  await cdp.send("ServiceWorker.enable");
  const payload = { type: "message", room, room_kind: "direct", room_name: null, sender: 2, sender_name: bob.name, count: 1, seq: 2, preview: "are you there?" };
  // what the push service hands the browser, decrypted (the server side: tests/test_push.py)
  await cdp.send("ServiceWorker.deliverPushMessage", { origin: baseURL!, registrationId: await registration, data: JSON.stringify(payload) });
  const shown = () => ann.page.evaluate(async () =>
    (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag })));
  await expect.poll(shown, { timeout: T }).toEqual([{ title: bob.name, body: "are you there?", tag: `room-${room}` }]);
});

test("a proxy's 502 for a page (chatd stopped behind it) starts the cached app instead of the error page", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const room = await openDirect(ann.page, bob.name);
  await send(ann.page, "still here behind the proxy");
  await controlled(ann.page);
  let asked = 0;
  await ann.context.route(`**/r/${room}`, async (route) => {
    if (!route.request().serviceWorker()) return route.fallback(); // the worker's own request to the network
    asked++;
    await route.fulfill({ status: 502, contentType: "text/html", body: "<title>502 Bad Gateway</title>nginx" });
  });
  await ann.page.reload();
  await expect(msg(ann.page, "still here behind the proxy")).toBeVisible({ timeout: T });
  expect(asked, "the worker asked the network first and got the 502").toBeGreaterThan(0);
  await expect(ann.page).not.toHaveTitle(/502/);
});
