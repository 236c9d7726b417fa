// Accounts in the browser: sign up, the session cookie, signing out here and from elsewhere.
import { test, expect, logIn, shot, signUp, T } from "./fixtures";

test("sign up: the favicon and a plain title", async ({ users }) => {
  const ann = await users.open("ann");
  const page = ann.page;
  await page.goto("/");
  await page.getByRole("tab", { name: "Sign up" }).click();
  await shot(page, "01-signup");
  await signUp(page, ann.name);

  const icon = await page.request.get("/favicon.svg");
  expect(icon.status(), "GET /favicon.svg answers").toBe(200);
  expect(icon.headers()["content-type"] ?? "", "as an SVG").toMatch(/^image\/svg\+xml/);
  expect(await page.evaluate(() => document.querySelector('link[rel="icon"]')?.getAttribute("href")), "the page links the favicon").toBe("/favicon.svg");
  expect(await page.title(), "no unread count with nothing unread").toBe("chatd");
});

test("the refresh token is out of script reach", async ({ users }) => {
  const ann = await users.signUp("ann");
  const [cookie] = (await ann.context.cookies()).filter((c) => c.name === "chatd_refresh");
  expect(cookie, "a refresh cookie").toBeDefined();
  expect({ httpOnly: cookie!.httpOnly, sameSite: cookie!.sameSite, path: cookie!.path }, "HttpOnly, SameSite=Strict, for /api/auth/ only")
    .toEqual({ httpOnly: true, sameSite: "Strict", path: "/api/auth/" });
  const stored = await ann.page.evaluate(() => JSON.stringify({ ls: { ...localStorage }, ss: { ...sessionStorage }, cookie: document.cookie }));
  expect(stored, "no token in localStorage, sessionStorage or document.cookie").not.toMatch(/eyJ|refresh/);
  expect(stored.includes(cookie!.value), "the cookie's value is nowhere a script can read").toBe(false);
});

test("signed out from another session: this browser's copies are wiped too", async ({ users }) => {
  const cat = await users.signUp("cat");
  const other = await users.open("cat-elsewhere");
  await logIn(other.page, cat.name);
  await other.page.goto("/settings");
  await other.page.getByRole("button", { name: "Log out other devices" }).click();
  await cat.page.getByText("You were signed out on this device from another session.").waitFor({ timeout: T });
  await cat.page.waitForFunction(async () => !(await indexedDB.databases()).some((d) => d.name!.startsWith("chatd-"))
    && !Object.keys(localStorage).some((k) => k.startsWith("chatd.")), null, { timeout: T });
});

test("logout wipes this browser's copies", async ({ users }) => {
  const ann = await users.signUp("ann");
  const page = ann.page;
  await page.getByRole("button", { name: "Profile and settings" }).click();
  const before = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? ""));
  expect(before.some((n) => n.startsWith("chatd-")), `the message cache exists before logout (${before.join(", ")})`).toBe(true);
  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await page.getByRole("button", { name: "Log in" }).waitFor({ timeout: T }); // at once; the wipe goes on
  await page.waitForFunction(async () => !(await indexedDB.databases()).some((d) => d.name!.startsWith("chatd-")), null, { timeout: T });
  const after = await page.evaluate(async () => ({
    dbs: (await indexedDB.databases()).map((d) => d.name ?? "").filter((n) => n.startsWith("chatd-")),
    keys: Object.keys(localStorage).filter((k) => k.startsWith("chatd.")),
    caches: (await caches.keys()).filter((k) => !k.startsWith("chatd-shell")), // the app shell stays (public files)
  }));
  expect(after, "logout left nothing behind").toEqual({ dbs: [], keys: [], caches: [] });
  expect((await ann.context.cookies()).some((c) => c.name === "chatd_refresh"), "the refresh cookie is gone").toBe(false);
  await page.reload();
  await page.getByRole("button", { name: "Log in" }).waitFor({ timeout: T });
  await shot(page, "12-logged-out");
});
