// Shared fixtures for the browser specs. A new spec file:
//
//   import { test, expect, send, msg } from "./fixtures";
//   test("something", async ({ users }) => {
//     const ann = await users.signUp("ann");          // a browser context of its own, signed up
//     const bob = await users.signUp("bob", { phone: true });
//     const room = await openDirect(ann.page, bob.name);
//     ...
//   });
//
// The server (one for the whole run, see global-setup.ts) is at `baseURL`, so `page.goto("/")` works.
// Every context a test opens is closed after it.
import { test as base, expect, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { decode } from "@msgpack/msgpack";
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { promisify } from "node:util";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

export { expect };

export const T = 15_000;
export const PASSWORD = "correct horse battery";
export const DESKTOP = { width: 1280, height: 780 };
export const PHONE = { width: 390, height: 760 };
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
export const SHOTS = path.join(HERE, "screenshots");
mkdirSync(SHOTS, { recursive: true });

export interface User {
  /** The username (unique per run: the prefix and a random suffix). */
  name: string;
  page: Page;
  context: BrowserContext;
}

export interface UserOptions {
  /** Open at phone width (390 px) instead of 1280 px. */
  phone?: boolean;
}

export interface Users {
  /** A new browser context whose page signed up a fresh account and is online. */
  signUp(prefix: string, opts?: UserOptions): Promise<User>;
  /** A new browser context and page, nobody signed in (the page is blank). */
  open(prefix: string, opts?: UserOptions): Promise<User>;
}

/** A username no other test of this run uses. */
export const uniqueName = (prefix: string) => `${prefix}_${Math.random().toString(36).slice(2, 7)}`;

export const test = base.extend<{ users: Users }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern: none
  baseURL: async ({}, use) => {
    const url = process.env.CHATD_E2E_HTTP;
    if (!url) throw new Error("no CHATD_E2E_HTTP: run through playwright.config.ts (its globalSetup starts the server)");
    await use(url);
  },
  users: async ({ browser, baseURL }, use) => {
    const contexts: BrowserContext[] = [];
    const open = async (prefix: string, opts: UserOptions = {}): Promise<User> => {
      const context = await newContext(browser, baseURL!, opts);
      contexts.push(context);
      const page = await context.newPage();
      const name = uniqueName(prefix);
      page.on("pageerror", (e) => console.log(`[e2e] page error (${name}): ${e.message}`));
      return { name, page, context };
    };
    await use({
      open,
      async signUp(prefix, opts) {
        const user = await open(prefix, opts);
        await signUp(user.page, user.name);
        return user;
      },
    });
    for (const c of contexts) await c.close().catch(() => undefined);
  },
});

function newContext(browser: Browser, baseURL: string, opts: UserOptions): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport: opts.phone ? PHONE : DESKTOP });
}

/** Sign up `username` on the sign-up tab of the start page and wait until the app is online. */
export async function signUp(page: Page, username: string): Promise<void> {
  await page.goto("/");
  await page.getByRole("tab", { name: "Sign up" }).click();
  await fillSignUp(page, username);
  await page.locator(".conn.online").waitFor({ timeout: T });
}

/** Fill and submit the sign-up form already on screen (an invite landing page shows one too). */
export async function fillSignUp(page: Page, username: string): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
}

export async function logIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.goto("/");
  await page.getByLabel("Username or email").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator(".conn.online").waitFor({ timeout: T });
}

/** Start a direct chat with `username` from the room list; resolves with the room id. */
export async function openDirect(page: Page, username: string): Promise<number> {
  await page.getByRole("button", { name: "New direct chat" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.waitForURL(/\/r\/\d+$/, { timeout: T });
  return roomOf(page);
}

/** The room id of the page's /r/<room> URL. */
export const roomOf = (page: Page): number => Number(new URL(page.url()).pathname.split("/")[2]);

/** Create a group with `members` (usernames); resolves with the room id. */
export async function createGroup(page: Page, name: string, members: string[]): Promise<number> {
  const before = new URL(page.url()).pathname;
  await page.getByRole("button", { name: "New group" }).click();
  await page.getByLabel("Group name").fill(name);
  for (const m of members) {
    await page.getByLabel("Add members (username)").fill(m);
    await page.getByLabel("Add members (username)").press("Enter");
  }
  await page.getByRole("button", { name: "Create group" }).click();
  await page.waitForURL((u) => /^\/r\/\d+$/.test(u.pathname) && u.pathname !== before, { timeout: T });
  return roomOf(page);
}

/** The message bubble whose text contains `text`. Only the body is searched: the bubble's time would
 * otherwise run on from it ("idea 1" + "08:06" reads "idea 108:06", a match for "idea 10"). */
export const msg = (page: Page, text: string) => page.locator(".msg").filter({ has: page.locator(".body", { hasText: text }) });

/** Type `text` into the composer, press Enter and wait until the server stored it (it has a seq). */
export async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await msg(page, text).and(page.locator("[data-seq]")).waitFor({ timeout: T });
}

export const tickOf = (page: Page, text: string) => msg(page, text).locator("[data-tick]").getAttribute("data-tick");

export async function waitTick(page: Page, text: string, tick: string): Promise<void> {
  await msg(page, text).locator(`[data-tick="${tick}"]`).waitFor({ timeout: T });
}

/** Save a screenshot as e2e/screenshots/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** Count the frames a page sends over its websockets, by type (`t`). Clear it by deleting its keys. */
export function watchFrames(page: Page): Record<string, number> {
  const counts: Record<string, number> = {};
  page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => {
    try {
      const f = decode(typeof payload === "string" ? Buffer.from(payload) : payload) as { t: string };
      counts[f.t] = (counts[f.t] ?? 0) + 1;
    } catch { /* not msgpack */ }
  }));
  return counts;
}

/** A small valid PNG (a gradient) for uploads. */
export function png(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(zlib.crc32(td) >>> 0);
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const rows = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rows.set([40 + x, 120, 200 - y], y * (w * 3 + 1) + 1 + x * 3);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

/** Make `username` an administrator, as an operator would (`chatctl grant-admin`, on this run's database). */
export async function grantAdmin(username: string): Promise<void> {
  const python = process.env.CHATD_PYTHON ?? path.join(ROOT, ".venv/bin/python");
  await promisify(execFile)(python, ["-m", "chatd.console.cli", "grant-admin", username], {
    cwd: ROOT, env: { ...process.env, CHAT_DATABASE_URL: process.env.CHATD_E2E_DATABASE },
  });
}

/** As administrator `admin` (granted with grantAdmin), call the admin API: e.g. `users/bob/disable`. */
export async function adminAction(page: Page, admin: string, action: string): Promise<void> {
  const login = await page.request.post("/api/auth/login", { headers: { "X-Chatd": "1" }, data: { username: admin, password: PASSWORD } });
  expect(login.ok(), `the admin logs in (${login.status()})`).toBe(true);
  const { access_token } = (await login.json()) as { access_token: string };
  const res = await page.request.post(`/api/admin/${action}`, { headers: { Authorization: `Bearer ${access_token}` } });
  expect(res.ok(), `admin ${action}: ${res.status()} ${await res.text()}`).toBe(true);
}
