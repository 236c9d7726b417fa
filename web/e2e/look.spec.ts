// How the client looks: real icons (no emoji glyphs, which show as empty boxes without an emoji font),
// avatars, names, phone width. Screenshots at 1280 and 390 px wide.
import { test, expect, createGroup, DESKTOP, msg, openDirect, PHONE, png, send, shot, signUp, T, type User } from "./fixtures";

/** Characters in the emoji and symbol blocks that the UI itself (not what people typed) shows. */
async function uiGlyphs(user: User): Promise<string[]> {
  return user.page.evaluate(() => {
    const found: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest(".body, .composer, textarea, input")) continue; // message text is the users'
      for (const ch of n.textContent ?? "") if (/[\u2190-\u21ff\u2300-\u23ff\u2600-\u27bf\u{1f000}-\u{1faff}]/u.test(ch)) found.push(ch);
    }
    return found;
  });
}

test("icons are SVG, not emoji glyphs", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  expect(await uiGlyphs(ann), "the empty room list").toEqual([]);
  const room = await openDirect(ann.page, bob.name);
  await send(ann.page, "hello bob");
  await bob.page.goto(`/r/${room}`);
  await expect(ann.page.locator(".msg.mine [data-tick] svg")).toBeVisible({ timeout: T });
  for (const name of ["New direct chat", "New group", "Profile and settings"]) {
    await expect(ann.page.getByRole("button", { name }).locator("svg"), `${name} is an icon`).toBeVisible();
  }
  expect(await uiGlyphs(ann), "the chat").toEqual([]);
  await ann.page.getByRole("button", { name: "Profile and settings" }).click();
  expect(await uiGlyphs(ann), "the settings").toEqual([]);
});

/** Nothing on the page is wider than the viewport (no sideways scrolling at phone width). */
async function noOverflow(user: User, what: string): Promise<void> {
  const over = await user.page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll<HTMLElement>("body *")]
      .filter((el) => el.getBoundingClientRect().right > w + 1 && el.checkVisibility())
      .filter((el) => !el.closest(".visually-hidden") && getComputedStyle(el).position !== "fixed")
      .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
    return { scroll: document.documentElement.scrollWidth - w, wide: wide.slice(0, 5) };
  });
  expect(over, `${what}: nothing wider than the screen`).toEqual({ scroll: 0, wide: [] });
}

/** Screenshots of the page at 1280 and at 390 px wide, as <name>-1280.png and <name>-390.png. */
async function bothWidths(user: User, name: string, phone?: () => Promise<void>): Promise<void> {
  const page = user.page;
  await page.setViewportSize(DESKTOP);
  await shot(page, `${name}-1280`);
  await page.setViewportSize(PHONE);
  await phone?.();
  await noOverflow(user, name);
  await shot(page, `${name}-390`);
  await page.setViewportSize(DESKTOP);
}

test("names and pictures everywhere; every phone screen has a way back and fits", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const cat = await users.signUp("cat");

  // ann: a display name and a profile photo
  await ann.page.getByRole("button", { name: "Profile and settings" }).click();
  await ann.page.getByLabel("Display name", { exact: true }).fill("Ann Lee");
  await ann.page.getByRole("button", { name: "Save profile" }).click();
  await ann.page.getByText("Saved.").waitFor({ timeout: T });
  await ann.page.locator("#profile-photo").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: png(96, 96) });
  await ann.page.getByText("Photo updated.").waitFor({ timeout: T });
  await expect(ann.page.locator(".profile-head [data-avatar=image] img")).toBeVisible();
  await bothWidths(ann, "20-profile", async () => {
    await expect(ann.page.getByRole("button", { name: "Back to chats" })).toBeVisible();
  });

  // a stranger opens a direct chat with bob: bob sees her name and picture, never an id
  const room = await openDirect(ann.page, bob.name);
  await send(ann.page, "hi bob, it's ann");
  const row = bob.page.locator(`.room-row[data-room="${room}"]`);
  await expect(row.locator(".room-title")).toHaveText("Ann Lee", { timeout: T });
  await expect(row.locator(".room-preview")).toHaveText("hi bob, it's ann");
  await expect(row.locator("[data-avatar=image] img")).toBeVisible({ timeout: T });
  await bob.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>(".room-row .avatar img")].some((i) => i.complete && i.naturalWidth > 0), null, { timeout: T });

  // a group: system messages name people ("Ann Lee added cat_..."), and so does the room list
  const group = await createGroup(ann.page, "Weekend plans", [bob.name, cat.name]);
  await ann.page.getByRole("button", { name: "Group settings" }).click();
  await ann.page.locator("#group-photo").setInputFiles({ name: "group.png", mimeType: "image/png", buffer: png(80, 60) });
  await expect(ann.page.locator(".profile-head [data-avatar=image] img")).toBeVisible({ timeout: T });
  await ann.page.getByRole("button", { name: "Back to chat" }).click();
  await expect(bob.page.locator(`.room-row[data-room="${group}"] [data-avatar=image] img`), "bob sees the group's photo").toBeVisible({ timeout: T });
  await send(ann.page, "who is in for saturday?");
  await cat.page.goto(`/r/${group}`);
  await send(cat.page, "me!");
  await send(cat.page, "and my sister");
  await bob.page.goto(`/r/${group}`);
  await msg(bob.page, "and my sister").waitFor({ timeout: T });
  await expect(bob.page.locator(".system", { hasText: "created the group" })).toHaveText(/^Ann Lee created the group “Weekend plans”$/);
  await expect(bob.page.locator(".system", { hasText: "group photo" })).toHaveText("Ann Lee changed the group photo");
  await expect(bob.page.locator(".msg-row .avatar").first()).toBeVisible();
  const text = await bob.page.locator("body").innerText();
  expect(text, "no user shown as a bare id").not.toMatch(/\buser \d+\b|…\s*(added|created|removed)/);
  await bothWidths(bob, "21-group-chat", async () => {
    await expect(bob.page.getByRole("button", { name: "Back to chats" })).toBeVisible();
  });
  await bob.page.goto("/");
  await expect(bob.page.locator(`.room-row[data-room="${group}"] .room-preview`)).toHaveText(`${cat.name}: and my sister`);
  // a kick names both people, in the chat and in the room list's preview
  await ann.page.goto(`/r/${group}/settings`);
  ann.page.once("dialog", (d) => void d.accept());
  await ann.page.getByRole("button", { name: `Kick ${cat.name}`, exact: true }).click();
  await expect(bob.page.locator(`.room-row[data-room="${group}"] .room-preview`)).toHaveText(`Ann Lee removed ${cat.name}`, { timeout: T });
  await bob.page.goto(`/r/${room}`);
  await send(bob.page, "hello Ann, a long word: " + "x".repeat(120));
  await bothWidths(bob, "22-direct-chat", async () => {
    await expect(bob.page.getByRole("button", { name: "Back to chats" })).toBeVisible();
  });
  await bothWidths(bob, "23-room-list", async () => {
    await bob.page.getByRole("button", { name: "Back to chats" }).click();
    await expect(bob.page.locator(`.room-row[data-room="${room}"] .room-preview`)).toContainText("You: hello Ann");
  });

  // group settings at phone width: back to the chat
  await ann.page.goto(`/r/${group}/settings`);
  await ann.page.getByText("Members (2)").waitFor({ timeout: T });
  await bothWidths(ann, "24-group-settings", async () => {
    await ann.page.getByRole("button", { name: "Back to chat" }).click();
    await ann.page.waitForURL(new RegExp(`/r/${group}$`));
    await ann.page.locator(".system", { hasText: `You removed ${cat.name}` }).waitFor({ timeout: T });
    await ann.page.goBack();
    await ann.page.getByText("Members (2)").waitFor({ timeout: T });
  });

  // the new-chat dialog closes
  await ann.page.setViewportSize(PHONE);
  await ann.page.goto("/");
  await ann.page.getByRole("button", { name: "New group" }).click();
  await noOverflow(ann, "new group dialog");
  await shot(ann.page, "25-new-group-390");
  await ann.page.getByRole("button", { name: "Close" }).click();
  await expect(ann.page.getByRole("dialog")).toHaveCount(0);
});

test("the notification sound: off by default, then for new messages in chats not in front", async ({ users }) => {
  const ann = await users.open("ann");
  // count the notes the page plays (Web Audio oscillators started)
  await ann.page.addInitScript(() => {
    const w = window as unknown as { chimes: number };
    w.chimes = 0;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with each node as `this`
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...args: Parameters<typeof start>) {
      w.chimes++;
      return start.apply(this, args);
    };
  });
  await signUp(ann.page, ann.name);
  const bob = await users.signUp("bob");
  const chimes = () => ann.page.evaluate(() => (window as unknown as { chimes: number }).chimes);

  const room = await openDirect(bob.page, ann.name);
  const group = await createGroup(bob.page, "Band", [ann.name]);
  await send(bob.page, "off by default");
  await ann.page.locator(`.room-row[data-room="${group}"]`).filter({ hasText: "off by default" }).waitFor({ timeout: T });
  expect(await chimes(), "no sound unless asked for").toBe(0);

  await ann.page.getByRole("button", { name: "Profile and settings" }).click();
  await ann.page.getByLabel("Play a sound for new messages in other chats").check();
  await ann.page.waitForFunction(() => (window as unknown as { chimes: number }).chimes > 0); // a sample when switched on
  const afterSample = await chimes();

  await ann.page.locator(`.room-row[data-room="${room}"]`).click(); // no reload: the counter lives in the page
  await ann.page.waitForURL(new RegExp(`/r/${room}$`));
  await ann.page.bringToFront();
  await send(bob.page, "in the band chat");
  await ann.page.locator(`.room-row[data-room="${group}"]`).filter({ hasText: "in the band chat" }).waitFor({ timeout: T });
  await ann.page.waitForFunction((n) => (window as unknown as { chimes: number }).chimes > n, afterSample, { timeout: T });
  const afterOther = await chimes();

  await bob.page.goto(`/r/${room}`);
  await send(bob.page, "in the chat ann has open");
  await msg(ann.page, "in the chat ann has open").waitFor({ timeout: T });
  await ann.page.waitForTimeout(300);
  expect(await chimes(), "no sound for the chat in front of the user").toBe(afterOther);
});
