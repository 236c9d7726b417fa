// The composer between two people (ann at 1280 px, bob at 390 px): Enter and Shift+Enter, an input
// method's Enter, the emoji picker, @mention suggestions and the highlighted mention on the other side,
// a pasted picture with a caption, a dropped file cancelled, a file over the server's limit.
import { test, expect, createGroup, msg, png, shot, T, type User } from "./fixtures";
import type { Page } from "@playwright/test";

const box = (page: Page) => page.getByLabel("Message", { exact: true });

/** Dispatch a paste, a drag over the conversation or a drop of `files` (name, type, bytes) built in the page. */
async function give(page: Page, how: "paste" | "drag" | "drop", files: { name: string; type: string; bytes: number[] | number }[]) {
  const target = how === "paste" ? box(page) : page.getByRole("log", { name: "Messages" });
  await target.evaluate((el, { how, files }) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const bytes = typeof f.bytes === "number" ? new Uint8Array(f.bytes) : new Uint8Array(f.bytes);
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    if (how === "paste") {
      el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
    } else {
      for (const type of how === "drag" ? ["dragenter", "dragover"] : ["drop"]) {
        el.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    }
  }, { how, files });
}

async function noSideways(user: User, what: string) {
  const width = await user.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(width[0], `${what}: nothing wider than the screen`).toBeLessThanOrEqual(width[1]!);
}

test("compose: keys, emoji, mentions, pasted and dropped files", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob", { phone: true });
  // bob has a display name: the mention menu finds him by it
  await bob.page.getByRole("button", { name: "Profile and settings" }).click();
  await bob.page.getByLabel("Display name", { exact: true }).fill("Bobby Tables");
  await bob.page.getByRole("button", { name: "Save profile" }).click();
  await bob.page.getByText("Saved.").waitFor({ timeout: T });

  const room = await createGroup(ann.page, "Composers", [bob.name]);
  await bob.page.goto(`/r/${room}`);
  await box(bob.page).waitFor({ timeout: T });

  // ---- Enter sends, Shift+Enter is a new line, the box grows; an input method's Enter never sends
  const a = box(ann.page);
  const oneLine = (await a.boundingBox())!.height;
  await a.pressSequentially("first line");
  await a.press("Shift+Enter");
  await a.pressSequentially("second line");
  await a.press("Shift+Enter");
  await a.pressSequentially("third");
  expect((await a.boundingBox())!.height, "the box grows with its lines").toBeGreaterThan(oneLine * 1.8);
  await a.evaluate((el) => el.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", isComposing: true, bubbles: true, cancelable: true })));
  await ann.page.waitForTimeout(300);
  expect(await a.inputValue(), "Enter while composing a word (IME) does not send").toBe("first line\nsecond line\nthird");
  await a.press("Enter");
  await expect(a).toHaveValue("");
  const multi = msg(bob.page, "second line").locator(".body");
  await multi.waitFor({ timeout: T });
  expect(await multi.evaluate((p) => p.textContent), "the lines arrive as lines").toBe("first line\nsecond line\nthird");
  expect((await a.boundingBox())!.height, "an empty box shrinks back").toBeLessThan(oneLine + 2);

  // ---- emoji: open, search, arrows + Enter pick at the caret, Escape closes and gives the box back
  await a.fill("nice ");
  await ann.page.getByRole("button", { name: "Emoji" }).click();
  const picker = ann.page.getByRole("dialog", { name: "Emoji picker" });
  const search = picker.getByLabel("Search emoji");
  await expect(search).toBeFocused();
  await expect(picker.getByRole("gridcell").first()).toBeVisible({ timeout: T });
  await shot(ann.page, "composer-1280-emoji");
  await search.pressSequentially("thumbs up");
  await expect(picker.getByRole("gridcell", { name: /thumbs up/i }).first()).toBeVisible({ timeout: T });
  await ann.page.keyboard.press("ArrowDown");
  await ann.page.keyboard.press("Enter");
  await ann.page.keyboard.press("Escape");
  await expect(picker).toHaveCount(0);
  await expect(a).toBeFocused();
  expect(await a.inputValue(), "the emoji went in at the caret").toMatch(/^nice 👍/u);
  // a click outside closes it too
  await ann.page.getByRole("button", { name: "Emoji" }).click();
  await expect(picker).toBeVisible();
  await ann.page.getByRole("log", { name: "Messages" }).click({ position: { x: 40, y: 40 } });
  await expect(picker).toHaveCount(0);
  await a.focus();
  await a.press("Enter");
  await msg(bob.page, "nice 👍").waitFor({ timeout: T });

  // ---- @mention: found by display name, arrows + Enter pick, Escape closes
  await a.pressSequentially("thanks @tab");
  const menu = ann.page.getByRole("listbox", { name: "Mention someone" });
  await expect(menu.getByRole("option", { name: new RegExp(bob.name) })).toBeVisible({ timeout: T });
  await expect(menu.getByRole("option", { name: /Bobby Tables/ })).toBeVisible({ timeout: T });
  await shot(ann.page, "composer-1280-mention");
  await a.press("Escape");
  await expect(menu).toHaveCount(0);
  await a.press("Backspace"); // typing on opens it again
  await expect(menu).toBeVisible();
  await a.press("ArrowDown");
  await a.press("ArrowUp");
  await a.press("Enter");
  await expect(a).toHaveValue(`thanks @${bob.name} `);
  await a.pressSequentially("for the review");
  await a.press("Enter");
  const mine = bob.page.locator(".msg .mention.me", { hasText: `@${bob.name}` });
  await mine.waitFor({ timeout: T });
  await expect(ann.page.locator(".msg.mine .mention", { hasText: `@${bob.name}` })).not.toHaveClass(/\bme\b/);
  await shot(bob.page, "composer-390-mention-received");

  // bob's side at phone width: the menu and the picker fit
  const b = box(bob.page);
  await b.pressSequentially("@");
  await expect(bob.page.getByRole("listbox", { name: "Mention someone" }).getByRole("option", { name: new RegExp(ann.name) })).toBeVisible({ timeout: T });
  await noSideways(bob, "the mention menu");
  await shot(bob.page, "composer-390-mention");
  await b.press("Escape");
  await b.fill("");
  await bob.page.getByRole("button", { name: "Emoji" }).click();
  await expect(bob.page.getByRole("dialog", { name: "Emoji picker" }).getByRole("gridcell").first()).toBeVisible({ timeout: T });
  await noSideways(bob, "the emoji picker");
  const pickerBox = (await bob.page.getByRole("dialog", { name: "Emoji picker" }).locator(".emoji-picker").boundingBox())!;
  expect(pickerBox.x >= 0 && pickerBox.x + pickerBox.width <= 390, "the picker is on screen").toBe(true);
  await shot(bob.page, "composer-390-emoji");
  await bob.page.keyboard.press("Escape");

  // ---- a pasted picture: a preview with a caption, then it arrives
  await give(bob.page, "paste", [{ name: "image.png", type: "image/png", bytes: [...png(120, 80)] }]);
  const preview = bob.page.getByRole("dialog", { name: "Send 1 file" });
  await expect(preview.getByRole("img", { name: "Preview of image.png" })).toBeVisible({ timeout: T });
  await preview.getByLabel("Caption").fill("pasted from the clipboard");
  await noSideways(bob, "the file preview");
  await shot(bob.page, "composer-390-preview");
  await preview.getByLabel("Caption").press("Enter");
  await expect(preview).toHaveCount(0);
  const arrived = ann.page.locator(".msg.theirs", { hasText: "pasted from the clipboard" }).locator("img");
  await arrived.waitFor({ timeout: T });
  await ann.page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>(".msg.theirs img")].some((i) => i.complete && i.naturalWidth > 0), null, { timeout: T });

  // ---- a dropped file on the conversation: previewed, cancelled, nothing sent
  const notes = [{ name: "notes.txt", type: "text/plain", bytes: [...new TextEncoder().encode("some notes")] }];
  await give(ann.page, "drag", notes);
  await expect(ann.page.getByText("Drop files to send them")).toBeVisible();
  await shot(ann.page, "composer-1280-drag");
  await give(ann.page, "drop", notes);
  await expect(ann.page.getByText("Drop files to send them")).toHaveCount(0);
  const dropped = ann.page.getByRole("dialog", { name: "Send 1 file" });
  await expect(dropped.getByText("notes.txt")).toBeVisible({ timeout: T });
  await shot(ann.page, "composer-1280-drop-preview");
  await dropped.getByRole("button", { name: "Cancel" }).click();
  await expect(dropped).toHaveCount(0);
  await ann.page.waitForTimeout(500);
  await expect(ann.page.locator(".uploads li")).toHaveCount(0);
  await expect(bob.page.locator(".msg", { hasText: "notes.txt" })).toHaveCount(0);

  // ---- a file over the server's upload limit (100 MiB): the server's reason, nothing sent
  await give(ann.page, "paste", [{ name: "huge.bin", type: "application/octet-stream", bytes: 100 * 1024 * 1024 + 1 }]);
  await ann.page.getByRole("dialog", { name: "Send 1 file" }).getByRole("button", { name: "Send" }).click();
  const refused = ann.page.locator(".uploads").getByRole("alert");
  await expect(refused).toHaveText(/Not sent: .*over the limit/, { timeout: 30_000 });
  await shot(ann.page, "composer-1280-refused");

  // ---- Escape in the text box drops a reply being written (the mention menu first, when open)
  await msg(ann.page, "pasted from the clipboard").hover();
  await msg(ann.page, "pasted from the clipboard").getByRole("button", { name: "Reply", exact: true }).click();
  const replyBar = ann.page.getByRole("status", { name: "Replying to a message" });
  await expect(replyBar).toBeVisible();
  await a.pressSequentially("@");
  await expect(menu).toBeVisible();
  await a.press("Escape");
  await expect(menu).toHaveCount(0);
  await expect(replyBar, "the first Escape only closed the menu").toBeVisible();
  await a.press("Escape");
  await expect(replyBar).toHaveCount(0);

  // ---- a draft stays with its chat when you go elsewhere and come back
  await a.fill("half a thought");
  await ann.page.getByRole("button", { name: "Profile and settings" }).click();
  await expect(a).toHaveCount(0);
  await ann.page.goBack();
  await expect(box(ann.page)).toHaveValue("half a thought");
});
