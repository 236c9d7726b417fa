// How the client looks: real icons (no emoji glyphs, which show as empty boxes without an emoji font),
// avatars, names, phone width. Screenshots at 1280 and 390 px wide.
import { test, expect, openDirect, send, T, type User } from "./fixtures";

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
