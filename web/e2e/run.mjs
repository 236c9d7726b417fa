// End-to-end: a real chatd (web/e2e/server.py, fresh database) and headless Chromium driven by
// playwright-core. Exit code 0 when every step passed. Screenshots go to e2e/screenshots/.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import zlib from "node:zlib";
import { chromium } from "playwright-core";
import { decode } from "@msgpack/msgpack";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const SHOTS = path.join(HERE, "screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PYTHON = process.env.CHATD_PYTHON ?? path.join(ROOT, ".venv/bin/python");
const T = 15_000;
mkdirSync(SHOTS, { recursive: true });

let step = "start";
const log = (msg) => console.log(`[e2e] ${msg}`);
const check = (cond, msg) => {
  if (!cond) throw new Error(`check failed: ${msg}`);
};

function startServer() {
  const proc = spawn(PYTHON, [path.join(HERE, "server.py")], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    const timer = setTimeout(() => reject(new Error("server did not start in 60 s")), 60_000);
    proc.on("exit", (code) => reject(new Error(`server exited early (${code})`)));
    lines.on("line", (line) => {
      if (line.startsWith("{")) {
        clearTimeout(timer);
        resolve({ proc, ...JSON.parse(line) });
      }
    });
  });
}

async function stopServer(proc) {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.stdin.end();
  const t = setTimeout(() => proc.kill("SIGTERM"), 15_000);
  await exited;
  clearTimeout(t);
}

/** A tiny valid PNG (solid colour) for the upload step. */
function png(w, h) {
  const crc = (buf) => zlib.crc32(buf) >>> 0;
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const rows = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rows.set([40 + x, 120, 200 - y], y * (w * 3 + 1) + 1 + x * 3);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

/** Count the frames a page sends over its websockets, by type. */
function watchFrames(page) {
  const counts = {};
  page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => {
    try {
      const f = decode(typeof payload === "string" ? Buffer.from(payload) : payload);
      counts[f.t] = (counts[f.t] ?? 0) + 1;
    } catch { /* not msgpack */ }
  }));
  return counts;
}

async function signup(page, base, username) {
  await page.goto(base);
  await page.getByRole("tab", { name: "Sign up" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator(".conn.online").waitFor({ timeout: T });
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
const msg = (page, text) => page.locator(".msg", { hasText: text });
async function send(page, text) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await msg(page, text).and(page.locator("[data-seq]")).waitFor({ timeout: T });
}
const tickOf = (page, text) => msg(page, text).locator("[data-tick]").getAttribute("data-tick");
async function waitTick(page, text, tick) {
  await msg(page, text).locator(`[data-tick="${tick}"]`).waitFor({ timeout: T });
}

async function main() {
  const suffix = Math.random().toString(36).slice(2, 7);
  const [ann, bob, cat] = ["ann", "bob", "cat"].map((n) => `${n}_${suffix}`);
  step = "start server";
  const server = await startServer();
  const base = server.http.replace(/\/$/, "");
  log(`server: ${base} (websocket ${server.ws})`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
  try {
    const desktop = { viewport: { width: 1200, height: 780 } };
    const [ctxA, ctxB, ctxC] = await Promise.all([browser.newContext(desktop), browser.newContext(desktop), browser.newContext(desktop)]);
    const [pageA, pageB, pageC] = await Promise.all([ctxA.newPage(), ctxB.newPage(), ctxC.newPage()]);
    for (const [p, who] of [[pageA, "A"], [pageB, "B"], [pageC, "C"]]) p.on("pageerror", (e) => log(`page error (${who}): ${e.message}`));
    const framesB = watchFrames(pageB);

    step = "sign up";
    await pageA.goto(base);
    await pageA.getByRole("tab", { name: "Sign up" }).click();
    await shot(pageA, "01-signup");
    await signup(pageA, base, ann);
    await signup(pageB, base, bob);

    step = "favicon";
    const icon = await pageA.request.get(`${base}/favicon.svg`);
    check(icon.status() === 200 && (icon.headers()["content-type"] ?? "").startsWith("image/svg+xml"), `GET /favicon.svg answers an SVG (${icon.status()} ${icon.headers()["content-type"]})`);
    check(await pageA.evaluate(() => document.querySelector('link[rel="icon"]')?.getAttribute("href") === "/favicon.svg"), "the page links the favicon");
    check((await pageA.title()) === "chatd", "no unread count with nothing unread");

    step = "direct chat";
    await pageA.getByRole("button", { name: "New direct chat" }).click();
    await pageA.getByLabel("Username").fill(bob);
    await pageA.getByRole("button", { name: "Start chat" }).click();
    await pageA.waitForURL(/\/r\/\d+$/, { timeout: T });
    const room = Number(new URL(pageA.url()).pathname.split("/")[2]);
    await send(pageA, "hello bob");

    step = "unread badge and real-time delivery";
    const rowB = pageB.locator(`.room-row[data-room="${room}"]`);
    await rowB.locator("[data-testid=unread]", { hasText: "1" }).waitFor({ timeout: T });
    await pageB.waitForFunction(() => document.title === "(1) chatd", null, { timeout: T }); // seen from another tab
    // the room list shows the last message (the unread count may be pushed a moment before the message)
    await rowB.filter({ hasText: "hello bob" }).waitFor({ timeout: T });
    await shot(pageB, "02-room-list");
    await rowB.click();
    await msg(pageB, "hello bob").waitFor({ timeout: T });

    step = "ticks move to read";
    await waitTick(pageA, "hello bob", "read");
    await pageB.waitForFunction(() => document.title === "chatd", null, { timeout: T }); // read: no count left

    step = "typing indicator";
    await pageB.getByLabel("Message", { exact: true }).pressSequentially("hi ann", { delay: 30 });
    await pageA.getByTestId("chat-subtitle").filter({ hasText: "typing" }).waitFor({ timeout: T });
    await pageB.getByLabel("Message", { exact: true }).press("Enter");
    await msg(pageA, "hi ann").waitFor({ timeout: T });
    await waitTick(pageB, "hi ann", "read");
    await shot(pageA, "03-chat");

    step = "offline backlog";
    await pageB.goto("about:blank");
    await pageA.getByTestId("chat-subtitle").filter({ hasText: "last seen" }).waitFor({ timeout: T });
    for (const i of [1, 2, 3]) await send(pageA, `while you were away ${i}`);
    check((await tickOf(pageA, "while you were away 3")) === "sent", "undelivered message shows one tick");
    await pageB.goto(`${base}/r/${room}`);
    await msg(pageB, "while you were away 3").waitFor({ timeout: T });
    await msg(pageB, "hello bob").waitFor({ timeout: T });
    await waitTick(pageA, "while you were away 3", "read");
    await pageA.getByTestId("chat-subtitle").filter({ hasText: "online" }).waitFor({ timeout: T });

    step = "reload from cache, no history request";
    await pageB.waitForTimeout(500);
    for (const k of Object.keys(framesB)) delete framesB[k];
    // Hold the websocket back (its URL comes from /api/config): the conversation must show from the cache.
    let release;
    const held = new Promise((r) => (release = r));
    await pageB.route("**/api/config", async (route) => {
      await held;
      await route.continue().catch(() => undefined);
    });
    await pageB.reload();
    await msg(pageB, "hello bob").waitFor({ timeout: T });
    await msg(pageB, "while you were away 3").waitFor({ timeout: T });
    check((await pageB.locator(".conn.online").count()) === 0, "the cached conversation shows before the socket is up");
    await shot(pageB, "04-reload-from-cache");
    release();
    await pageB.locator(".conn.online").waitFor({ timeout: T });
    await pageB.waitForTimeout(1500);
    log(`frames B sent after reload: ${JSON.stringify(framesB)}`);
    check(framesB.hello === 1, "reconnected with one hello");
    check(!framesB.history, `no history request after reload (sent ${framesB.history})`);

    step = "edit and delete own messages";
    const seqOf = async (page, text) => Number(await msg(page, text).getAttribute("data-seq"));
    const [seqEdit, seqDel] = [await seqOf(pageA, "while you were away 1"), await seqOf(pageA, "while you were away 2")];
    const bubble = (page, seq) => page.locator(`.msg[data-seq="${seq}"]`);
    check((await msg(pageA, "hi ann").getByRole("button", { name: "Edit message" }).count()) === 0, "no actions on the other user's message");
    await bubble(pageA, seqEdit).hover();
    await bubble(pageA, seqEdit).getByRole("button", { name: "Edit message" }).click();
    const editBox = bubble(pageA, seqEdit).getByLabel("Edit message text");
    await editBox.fill("   ");
    await editBox.press("Enter");
    await bubble(pageA, seqEdit).getByRole("alert").filter({ hasText: "cannot be empty" }).waitFor({ timeout: T }); // refused here
    await editBox.press("Escape");
    await editBox.waitFor({ state: "detached", timeout: T });
    check((await bubble(pageA, seqEdit).locator(".body").textContent()) === "while you were away 1", "Escape keeps the text");
    // by keyboard: Escape gave the focus back to the Edit button
    check(await bubble(pageA, seqEdit).getByRole("button", { name: "Edit message" }).evaluate((b) => b === document.activeElement), "focus is back on Edit");
    await pageA.keyboard.press("Enter");
    await editBox.fill("see you at five");
    await editBox.press("Shift+Enter");
    await editBox.pressSequentially("bring snacks");
    await editBox.press("Enter");
    await editBox.waitFor({ state: "detached", timeout: T });
    for (const page of [pageA, pageB]) {
      await bubble(page, seqEdit).locator(".body", { hasText: "see you at five\nbring snacks" }).waitFor({ timeout: T });
      await bubble(page, seqEdit).locator(".edited", { hasText: "(edited)" }).waitFor({ timeout: T });
    }
    check((await bubble(pageB, seqEdit).locator(".body").textContent()) === "see you at five\nbring snacks", "Shift+Enter kept a new line");
    pageA.once("dialog", (d) => void d.accept());
    await bubble(pageA, seqDel).hover();
    await bubble(pageA, seqDel).getByRole("button", { name: "Delete message" }).click();
    for (const page of [pageA, pageB]) {
      await bubble(page, seqDel).locator(".body.deleted", { hasText: "This message was deleted" }).waitFor({ timeout: T });
      check(!(await bubble(page, seqDel).textContent()).includes("while you were away 2"), "the deleted text is gone");
    }
    check((await bubble(pageA, seqDel).getByRole("button", { name: "Delete message" }).count()) === 0, "no actions on a deleted message");
    await msg(pageA, "while you were away 3").hover();
    await msg(pageA, "while you were away 3").getByRole("button", { name: "Delete message" }).waitFor({ timeout: T });
    await shot(pageA, "13-edit-delete");

    step = "media upload";
    await pageB.locator('input[type="file"]').setInputFiles({ name: "dots.png", mimeType: "image/png", buffer: png(64, 48) });
    const sentImage = pageB.locator(".msg.mine[data-seq] img");
    const failed = pageB.locator(".send-error, .uploads .error");
    await Promise.race([sentImage.waitFor({ timeout: T }), failed.waitFor({ timeout: T })]);
    if (await failed.count()) {
      log(`media message not accepted by this server: ${await failed.first().textContent()} (skipped)`);
    } else {
      await pageA.locator(".msg.theirs img").waitFor({ timeout: T });
      await pageA.waitForFunction(() => { const i = document.querySelector(".msg.theirs img"); return i && i.complete && i.naturalWidth > 0; }, null, { timeout: T });
      const src = await pageA.locator(".msg.theirs img").getAttribute("src");
      check(/\/api\/media\/[\w-]+\?u=\d+&exp=\d+&sig=[\w-]+$/.test(src ?? "") && !/token/.test(src ?? ""), `the image comes through a signed link, no token in the URL (${src})`);
      log("media: the photo went up with progress and came down for the other user");
    }

    step = "phone width";
    await pageB.setViewportSize({ width: 390, height: 760 });
    await shot(pageB, "05-chat-phone");
    await pageB.getByRole("button", { name: "Back to chats" }).click();
    await shot(pageB, "06-room-list-phone");

    step = "group and invite link";
    await pageA.getByRole("button", { name: "New group" }).click();
    await pageA.getByLabel("Group name").fill("Team");
    await pageA.getByLabel("Add members (username)").fill(bob);
    await pageA.getByLabel("Add members (username)").press("Enter");
    await pageA.getByRole("button", { name: "Create group" }).click();
    await pageA.waitForURL((u) => /^\/r\/\d+$/.test(u.pathname) && u.pathname !== `/r/${room}`, { timeout: T });
    const group = Number(new URL(pageA.url()).pathname.split("/")[2]);
    check(group !== room, "a new room for the group");
    await pageA.getByRole("button", { name: "Group settings" }).click();
    await pageA.getByRole("button", { name: "Create invite link" }).click();
    const linkBox = pageA.getByTestId("invite-link").first();
    await linkBox.waitFor({ timeout: T });
    const link = await linkBox.inputValue();
    check(link.includes("/i/"), `an invite link (${link})`);
    await shot(pageA, "07-group-settings");

    step = "third user joins by the link";
    await pageC.goto(link);
    await pageC.getByLabel("Username").fill(cat);
    await pageC.getByLabel("Email").fill(`${cat}@example.com`);
    await pageC.getByLabel("Password").fill("correct horse battery");
    await pageC.getByRole("button", { name: "Create account" }).click();
    await pageC.getByRole("heading", { name: "Join “Team”" }).waitFor({ timeout: T }); // asked of the server
    check((await pageC.getByTestId("invite-members").textContent()) === "2 members", "the group's size now");
    await shot(pageC, "08-invite");
    await pageC.getByRole("button", { name: "Join group" }).click();
    await pageC.waitForURL(new RegExp(`/r/${group}$`), { timeout: T });
    await send(pageC, "hi team");
    await pageA.goto(`${base}/r/${group}`);
    await msg(pageA, "hi team").waitFor({ timeout: T });
    await pageA.locator(".system", { hasText: "joined via an invite link" }).waitFor({ timeout: T });
    await pageA.getByText("3 members").waitFor({ timeout: T });
    await shot(pageA, "09-group-chat");

    step = "profile settings";
    await pageA.getByRole("button", { name: "Profile and settings" }).click();
    await pageA.getByLabel("Display name", { exact: true }).fill("Ann A.");
    await pageA.getByRole("button", { name: "Save profile" }).click();
    await pageA.getByText("Saved.").waitFor({ timeout: T });
    await shot(pageA, "10-settings");

    step = "devices and password";
    const devices = pageA.getByRole("list", { name: "Signed-in devices" });
    await devices.getByText("(this device)").waitFor({ timeout: T });
    await pageA.getByLabel("Current password").fill("correct horse battery");
    await pageA.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
    await pageA.getByLabel("Confirm new password").fill("a brand new passfrase");
    await pageA.getByRole("button", { name: "Change password" }).click();
    await pageA.getByRole("alert").filter({ hasText: "do not match" }).waitFor({ timeout: T }); // refused here
    await pageA.getByLabel("Confirm new password").fill("a brand new passphrase");
    await pageA.getByRole("button", { name: "Change password" }).click();
    await pageA.getByText("Password changed.").waitFor({ timeout: T });
    await shot(pageA, "11-devices");

    step = "the refresh token is out of script reach";
    const [cookie] = (await ctxA.cookies()).filter((c) => c.name === "chatd_refresh");
    check(cookie && cookie.httpOnly && cookie.sameSite === "Strict" && cookie.path === "/api/auth/", `an HttpOnly SameSite=Strict cookie for /api/auth/ (${JSON.stringify(cookie)})`);
    const stored = await pageA.evaluate(() => JSON.stringify({ ls: { ...localStorage }, ss: { ...sessionStorage }, cookie: document.cookie }));
    check(!/eyJ|refresh/.test(stored) && !stored.includes(cookie.value), `no token in localStorage, sessionStorage or document.cookie (${stored})`);

    step = "kick and revoke links";
    await pageA.goto(`${base}/r/${group}`);
    await pageA.getByRole("button", { name: "Group settings" }).click();
    await pageA.getByText("also revokes every invite link").waitFor({ timeout: T }); // said, not only a tooltip
    pageA.once("dialog", (d) => void d.accept());
    await pageA.getByRole("button", { name: `Kick and revoke links ${cat}` }).click();
    await pageA.getByText("Members (2)").waitFor({ timeout: T });
    await pageA.getByTestId("invite-link").first().waitFor({ state: "detached", timeout: T }); // the list reloads after the members
    check((await pageA.getByTestId("invite-link").count()) === 0, "no live invite link is left");
    await pageC.goto(link);
    await pageC.getByText("This invite link was revoked.").waitFor({ timeout: T });
    await pageA.goto(`${base}/r/${group}`);
    await pageA.locator(".system", { hasText: "and revoked the invite links" }).waitFor({ timeout: T });

    step = "signed out from another session: this browser's copies are wiped too";
    const ctxD = await browser.newContext(desktop);
    const pageD = await ctxD.newPage();
    await pageD.goto(base);
    await pageD.getByLabel("Username or email").fill(cat);
    await pageD.getByLabel("Password").fill("correct horse battery");
    await pageD.getByRole("button", { name: "Log in" }).click();
    await pageD.locator(".conn.online").waitFor({ timeout: T });
    await pageD.goto(`${base}/settings`);
    await pageD.getByRole("button", { name: "Log out other devices" }).click();
    await pageC.getByText("You were signed out on this device from another session.").waitFor({ timeout: T });
    await pageC.waitForFunction(async () => !(await indexedDB.databases()).some((d) => d.name.startsWith("chatd-"))
      && !Object.keys(localStorage).some((k) => k.startsWith("chatd.")), null, { timeout: T });
    await ctxD.close();

    await pageA.getByRole("button", { name: "Profile and settings" }).click();
    step = "logout wipes this browser's copies";
    const before = await pageA.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    check(before.some((n) => n.startsWith("chatd-")), `the message cache exists before logout (${before})`);
    await pageA.getByRole("button", { name: "Log out", exact: true }).click();
    await pageA.getByRole("button", { name: "Log in" }).waitFor({ timeout: T }); // at once; the wipe goes on
    await pageA.waitForFunction(async () => !(await indexedDB.databases()).some((d) => d.name.startsWith("chatd-")), null, { timeout: T });
    const after = await pageA.evaluate(async () => ({
      dbs: (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith("chatd-")),
      keys: Object.keys(localStorage).filter((k) => k.startsWith("chatd.")),
      caches: (await caches.keys()).filter((k) => !k.startsWith("chatd-shell")), // the app shell stays (public files)
    }));
    check(after.dbs.length === 0 && after.keys.length === 0 && after.caches.length === 0, `logout left nothing behind (${JSON.stringify(after)})`);
    check(!(await ctxA.cookies()).some((c) => c.name === "chatd_refresh"), "the refresh cookie is gone");
    await pageA.reload();
    await pageA.getByRole("button", { name: "Log in" }).waitFor({ timeout: T });
    await shot(pageA, "12-logged-out");
  } finally {
    await browser.close().catch(() => undefined);
    await stopServer(server.proc);
  }
}

const deadline = setTimeout(() => {
  console.error(`[e2e] FAILED: timed out at step "${step}"`);
  process.exit(1);
}, Number(process.env.E2E_TIMEOUT_MS ?? 180_000));

main().then(() => {
  clearTimeout(deadline);
  log(`all steps passed; screenshots in ${SHOTS}`);
  process.exit(0);
}, (err) => {
  clearTimeout(deadline);
  console.error(`[e2e] FAILED at step "${step}": ${err.stack ?? err}`);
  process.exit(1);
});
